/** The registry of bench/warm-ab.ts's image: allowed by pattern, so no AWS call is made. */
export const WARM_AB_REGISTRY = '111122223333.dkr.ecr.us-west-2.amazonaws.com';
