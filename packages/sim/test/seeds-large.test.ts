import { describe } from 'vitest';
import { runBudget } from './budget.js';

// The fixed seed budget CI runs, larger clusters (split in two files so both cores work).
describe('fixed seed budget: 5 to 9 nodes', () => {
  runBudget([
    { nodes: 5, faults: 'heavy', seeds: 220 },
    { nodes: 5, faults: 'heavy', seeds: 30, seconds: 20 },
    { nodes: 5, faults: 'light', seeds: 50 },
    { nodes: 5, faults: 'mixed', seeds: 120 },
    { nodes: 5, faults: 'none', seeds: 10 },
    { nodes: 7, faults: 'heavy', seeds: 50 },
    { nodes: 7, faults: 'mixed', seeds: 30 },
    { nodes: 9, faults: 'heavy', seeds: 20 },
  ]);
});
