import { ArgumentMetadata, BadRequestException, ValidationError, ValidationPipe } from '@nestjs/common';
import { defaultMetadataStorage } from 'class-transformer/cjs/storage.js';
import {
  getMetadataStorage,
  MetadataStorage,
  ValidationArguments,
  ValidationTypes,
  type ValidatorOptions,
} from 'class-validator';
import { ValidationUtils } from 'class-validator/cjs/validation/ValidationUtils.js';

type ValidationMetadata = ReturnType<MetadataStorage['getTargetValidationMetadatas']>[number];
type DtoClass = Parameters<MetadataStorage['getTargetValidationMetadatas']>[0];

interface FieldProblem {
  field: string;
  problems: string[];
}

/** A 400 lists this many problems at most and counts the rest. */
export const MAX_LISTED_PROBLEMS = 20;
/** Field names (and so problems) echo the client's keys: longer ones are cut. */
const MAX_PROBLEM_CHARS = 120;

/** Constraints on a value's type: when one fails, the others (length, size, range) only add noise. */
const TYPE_CONSTRAINTS = new Set(['isString', 'isArray', 'isInt', 'isNumber', 'isBoolean', 'isObject']);

/**
 * Size limits checked on the plain body before class-transformer and class-validator see it, each
 * on values of its kind: those two visit every element of an array however long, and the 400
 * would list each element's problems.
 */
const SIZE_CONSTRAINTS = new Map<string, (value: unknown) => boolean>([
  ['arrayMaxSize', Array.isArray],
  ['maxLength', (value) => typeof value === 'string'],
]);

/** A missing field is "required"; a value of the wrong type gets only its type problem. */
function problemsOf(error: ValidationError): string[] {
  if (error.value === undefined) return [`${error.property} is required`];
  const constraints = Object.entries(error.constraints ?? {});
  const typeProblems = constraints.filter(([name]) => TYPE_CONSTRAINTS.has(name));
  return (typeProblems.length > 0 ? typeProblems : constraints).map(([, message]) => message);
}

function flatten(errors: ValidationError[], parent = ''): FieldProblem[] {
  return errors.flatMap((error) => {
    const field = parent ? `${parent}.${error.property}` : error.property;
    const own = error.constraints ? [{ field, problems: problemsOf(error) }] : [];
    return [...own, ...flatten(error.children ?? [], field)];
  });
}

/** class-validator's own message for a size constraint the value breaks, if it does. */
function sizeProblem(metadata: ValidationMetadata, dto: DtoClass, object: object, value: unknown): string | undefined {
  const appliesTo = SIZE_CONSTRAINTS.get(metadata.name ?? '');
  if (!appliesTo) return undefined;
  const values = metadata.each && Array.isArray(value) ? value : [value];
  const args: ValidationArguments = {
    targetName: dto.name,
    property: metadata.propertyName,
    object,
    value,
    constraints: metadata.constraints,
  };
  const [constraint] = getMetadataStorage().getTargetValidatorConstraints(metadata.constraintCls);
  if (!values.some((item) => appliesTo(item) && !constraint.instance.validate(item, args))) return undefined;
  return ValidationUtils.replaceMessageSpecialTokens(
    metadata.message || constraint.instance.defaultMessage!(args),
    args,
  );
}

/**
 * What class-validator would take long over or miss, found on the plain body and its nested DTOs:
 * arrays and strings over their size limit (descending only into arrays within theirs), and
 * fields named like members of Object.prototype, which its whitelist looks up in a plain object
 * and so takes for known ones ("toString" would reach the service).
 */
function earlyProblems(body: unknown, dto: DtoClass, parent = ''): FieldProblem[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return [];
  const storage = getMetadataStorage();
  const byProperty = storage.groupByPropertyName(storage.getTargetValidationMetadatas(dto, '', true, false));
  const fieldOf = (property: string) => (parent ? `${parent}.${property}` : property);
  const inherited = Object.keys(body)
    .filter((key) => key in Object.prototype && !Object.hasOwn(byProperty, key))
    .map((key) => ({ field: fieldOf(key), problems: [`property ${key} should not exist`] }));
  return [
    ...inherited,
    ...Object.entries(byProperty).flatMap(([property, metadatas]) => {
      if (!Object.hasOwn(body, property)) return [];
      const value = (body as Record<string, unknown>)[property];
      const problems = metadatas.flatMap((metadata) => sizeProblem(metadata, dto, body, value) ?? []);
      if (problems.length > 0) return [{ field: fieldOf(property), problems }];
      const nested = metadatas.some((metadata) => metadata.type === ValidationTypes.NESTED_VALIDATION)
        ? defaultMetadataStorage.findTypeMetadata(dto, property)?.typeFunction()
        : undefined;
      if (!nested) return [];
      return Array.isArray(value)
        ? value.flatMap((item, i) => earlyProblems(item, nested, `${fieldOf(property)}.${i}`))
        : earlyProblems(value, nested, fieldOf(property));
    }),
  ];
}

const clip = (text: string) => (text.length > MAX_PROBLEM_CHARS ? `${text.slice(0, MAX_PROBLEM_CHARS)}…` : text);

/** The 400 for a request's problems: the first MAX_LISTED_PROBLEMS in message and details, then a count. */
export function invalidRequest(details: FieldProblem[]): BadRequestException {
  const listed: FieldProblem[] = [];
  let room = MAX_LISTED_PROBLEMS;
  for (const { field, problems } of details) {
    if (room === 0) break;
    listed.push({ field: clip(field), problems: problems.slice(0, room).map(clip) });
    room -= Math.min(room, problems.length);
  }
  const unlisted = details.reduce((count, d) => count + d.problems.length, 0) - (MAX_LISTED_PROBLEMS - room);
  const listing = listed.map((d) => `${d.field}: ${d.problems.join(', ')}`).join('; ');
  const more = unlisted > 0 ? `; and ${unlisted} more problems` : '';
  return new BadRequestException({ message: `Invalid request: ${listing}${more}`, details: listed });
}

const IGNORES_UNKNOWN_FIELDS = Symbol('ignoresUnknownFields');

/**
 * A request DTO whose unknown fields are dropped instead of refused (with those of its nested
 * DTOs): for a foreign API whose clients send whatever their version of it defines.
 */
export function IgnoresUnknownFields(): ClassDecorator {
  return (target) => Reflect.defineMetadata(IGNORES_UNKNOWN_FIELDS, true, target);
}

/**
 * ValidationPipe that first refuses, cheaply, a body that is not a JSON object or has one of the
 * early problems above, whatever the DTO.
 */
class RequestValidationPipe extends ValidationPipe {
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type === 'body' && this.toValidate(metadata)) {
      // Without this an array body reads "property 0 should not exist" and null lists every field.
      if (typeof value !== 'object' || value === null || Array.isArray(value))
        throw invalidRequest([{ field: 'body', problems: ['the body must be a JSON object'] }]);
      const early = earlyProblems(value, metadata.metatype!);
      if (early.length > 0) throw invalidRequest(early);
    }
    return super.transform(value, metadata);
  }

  protected override validate(object: object, options?: ValidatorOptions) {
    const ignoresUnknown = Reflect.getMetadata(IGNORES_UNKNOWN_FIELDS, object.constructor) === true;
    return super.validate(object, ignoresUnknown ? { ...options, forbidNonWhitelisted: false } : options);
  }
}

/** Whitelist, reject unknown fields (drop them for IgnoresUnknownFields DTOs), transform to DTO classes; 400 lists each field with its problems. */
export function createValidationPipe(): ValidationPipe {
  return new RequestValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    transform: true,
    // Nest drops the value of an error with children, and problemsOf would read it as missing.
    validationError: { target: false, value: true },
    exceptionFactory: (errors) => invalidRequest(flatten(errors)),
  });
}
