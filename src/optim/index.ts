// Optimizers and learning-rate schedules.
export { Optimizer } from './optimizer.js';
export { SGD, type SgdOptions } from './sgd.js';
export { Adam, AdamW, type AdamOptions } from './adam.js';
export {
  stepSchedule,
  cosineSchedule,
  type Schedule,
  type StepScheduleOptions,
  type CosineScheduleOptions,
} from './schedule.js';
