import { ValidateIf } from 'class-validator';

/** An optional field that may be left out but not sent as null (IsOptional lets null reach the service). */
export const Optional = () => ValidateIf((_object, value) => value !== undefined);
