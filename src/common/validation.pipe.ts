import { ArgumentMetadata, BadRequestException, ValidationError, ValidationPipe } from '@nestjs/common';

interface FieldProblem {
  field: string;
  problems: string[];
}

/** Constraints on a value's type: when one fails, the others (length, size, range) only add noise. */
const TYPE_CONSTRAINTS = new Set(['isString', 'isArray', 'isInt', 'isNumber', 'isBoolean', 'isObject']);

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

const invalid = (details: FieldProblem[]) =>
  new BadRequestException({
    message: `Invalid request: ${details.map((d) => `${d.field}: ${d.problems.join(', ')}`).join('; ')}`,
    details,
  });

/** ValidationPipe that first refuses a body that is not a JSON object, whatever the DTO. */
class RequestValidationPipe extends ValidationPipe {
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    // Without this an array body reads "property 0 should not exist" and null lists every field.
    if (
      metadata.type === 'body' &&
      this.toValidate(metadata) &&
      (typeof value !== 'object' || value === null || Array.isArray(value))
    ) {
      throw invalid([{ field: 'body', problems: ['the body must be a JSON object'] }]);
    }
    return super.transform(value, metadata);
  }
}

/** Whitelist, reject unknown fields, transform to DTO classes; 400 lists every field with its problems. */
export function createValidationPipe(): ValidationPipe {
  return new RequestValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    transform: true,
    exceptionFactory: (errors) => invalid(flatten(errors)),
  });
}
