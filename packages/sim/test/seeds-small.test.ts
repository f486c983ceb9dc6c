import { describe } from 'vitest';
import { runBudget } from './budget.js';

// The fixed seed budget CI runs, small clusters (split in two files so both cores work).
describe('fixed seed budget: 1 to 4 nodes', () => {
  runBudget([
    { nodes: 3, faults: 'heavy', seeds: 300 },
    { nodes: 3, faults: 'heavy', seeds: 40, seconds: 20 },
    { nodes: 3, faults: 'light', seeds: 60 },
    { nodes: 3, faults: 'mixed', seeds: 100 },
    { nodes: 1, faults: 'heavy', seeds: 60 },
    { nodes: 2, faults: 'heavy', seeds: 60 },
    { nodes: 4, faults: 'heavy', seeds: 80 },
  ]);
});
