// The table of the ECR User Guide, "Filters to choose which repositories are scanned in Amazon
// ECR": repository names across, filters down.
export const ECR_FILTER_TABLE: ReadonlyArray<[string, Record<string, boolean>]> = [
  ['prod', { prod: true, 'repo-prod': true, 'prod-repo': true, 'repo-prod-repo': true, prodrepo: true }],
  ['*prod', { prod: true, 'repo-prod': true, 'prod-repo': false, 'repo-prod-repo': false, prodrepo: false }],
  ['prod*', { prod: true, 'repo-prod': false, 'prod-repo': true, 'repo-prod-repo': false, prodrepo: true }],
  ['*prod*', { prod: true, 'repo-prod': true, 'prod-repo': true, 'repo-prod-repo': true, prodrepo: true }],
  ['prod*repo', { prod: false, 'repo-prod': false, 'prod-repo': true, 'repo-prod-repo': false, prodrepo: true }],
];
