/**
 * JSON schemas of the KV HTTP API's bodies and query strings, checked by
 * fastify (Ajv) before a handler runs, and the formatter that turns a failed
 * check into one sentence naming the field.
 */
import type { FastifySchemaValidationError } from 'fastify';
import { ENCODINGS } from './values.js';

/** READ_MODES are the `?read=` values of `GET /kv/:key` (KvClient read modes). */
export const READ_MODES = ['linearizable', 'lease', 'stale'] as const;

const encoding = { enum: ENCODINGS };

/** putBody: `{"value": string, "encoding"?: "utf8"|"base64"}`. */
export const putBody = {
  type: 'object',
  required: ['value'],
  additionalProperties: false,
  properties: { value: { type: 'string' }, encoding },
} as const;

/** appendBody: `{"suffix": string, "encoding"?}`. */
export const appendBody = {
  type: 'object',
  required: ['suffix'],
  additionalProperties: false,
  properties: { suffix: { type: 'string' }, encoding },
} as const;

/** casBody: `{"expected": string|null, "value": string, "encoding"?}`; null expects the key absent. */
export const casBody = {
  type: 'object',
  required: ['expected', 'value'],
  additionalProperties: false,
  properties: { expected: { type: ['string', 'null'] }, value: { type: 'string' }, encoding },
} as const;

/** getQuery: `?read=linearizable|lease|stale`. */
export const getQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { read: { enum: READ_MODES } },
} as const;

/** listQuery: `?prefix=p&limit=n`. */
export const listQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    prefix: { type: 'string' },
    limit: { type: 'string', pattern: '^[0-9]{1,9}$' },
  },
} as const;

/** noQuery refuses any query string (routes that take none). */
export const noQuery = { type: 'object', additionalProperties: false } as const;

/** formatSchemaError is fastify's `schemaErrorFormatter`: the first failed check as a sentence naming the field. */
export function formatSchemaError(errors: FastifySchemaValidationError[], dataVar: string): Error {
  const e = errors[0];
  const part = dataVar === 'querystring' ? 'query' : dataVar;
  if (e === undefined) return new Error(`invalid ${part}`);
  const where = `${part}${e.instancePath.replaceAll('/', '.')}`;
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required':
      return new Error(`${where} is missing the field "${String(p.missingProperty)}"`);
    case 'additionalProperties':
      return new Error(`${where} has an unknown field "${String(p.additionalProperty)}"`);
    case 'enum':
      return new Error(
        `${where} must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`,
      );
    case 'type': {
      const types = ([] as unknown[]).concat(p.type).map(String);
      if (e.instancePath === '' && part === 'body') return new Error('the body must be a JSON object');
      return new Error(
        `${where} must be ${types.map((t) => (t === 'null' ? 'null' : `a ${t}`)).join(' or ')}`,
      );
    }
    case 'pattern':
      return new Error(`${where} must be a non-negative integer`);
    default:
      return new Error(`${where} ${e.message ?? 'is invalid'}`);
  }
}
