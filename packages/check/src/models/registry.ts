import type { AnyModel } from '../model.js';
import { kvModel } from './kv.js';
import { registerModel } from './register.js';

/**
 * models are the built-in models by name: how {@link checkHistoryParallel}
 * and its worker threads refer to a model, since functions do not cross
 * threads.
 */
export const models = { register: registerModel, kv: kvModel } as const satisfies Record<string, AnyModel>;

/** ModelName names a built-in model. */
export type ModelName = keyof typeof models;

/** modelByName is the built-in model `name`; throws a RangeError listing the names otherwise. */
export function modelByName(name: string): AnyModel {
  if (!Object.hasOwn(models, name))
    throw new RangeError(
      `unknown model ${JSON.stringify(name)}: use one of ${Object.keys(models).join(', ')}`,
    );
  return models[name as ModelName];
}
