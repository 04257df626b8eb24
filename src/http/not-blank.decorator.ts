import { Matches } from 'class-validator';

/** Text the model is asked about: not empty and not only white space (every route refuses both alike). */
export const NotBlank = () => Matches(/\S/u, { message: '$property must not be empty or only whitespace' });
