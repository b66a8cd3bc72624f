// The product's reading of ECR's scanning-rule filters, against the ECR User Guide's own table.
import t from 'tap';
import { repositoryCovered, scanningFilterMatches } from '../../src/facts/ecr/scan.ts';
import { ECR_FILTER_TABLE } from '../helpers/ecr-filter-table.ts';

t.test('scanningFilterMatches follows the table of "Filters to choose which repositories are scanned"', async (t) => {
  for (const [filter, row] of ECR_FILTER_TABLE) {
    for (const [repository, expected] of Object.entries(row)) {
      t.equal(scanningFilterMatches(filter, repository), expected, `${filter} vs ${repository}`);
    }
  }
  t.equal(scanningFilterMatches('team.a/api', 'teamxa/api'), false, '"." is literal');
  t.equal(scanningFilterMatches('team.a/*', 'team.a/api'), true);
  t.equal(scanningFilterMatches('a*b*c', 'abbc'), true);
  t.equal(scanningFilterMatches('a*b*c', 'acb'), false);
  t.equal(repositoryCovered({ scanType: 'ENHANCED', repositoryFilters: ['prod'], authoritative: true }, 'repo-prod-repo'), true);
  t.equal(repositoryCovered({ scanType: 'ENHANCED', repositoryFilters: [], authoritative: true }, 'anything'), false, 'no rule: nothing is scanned');
});
