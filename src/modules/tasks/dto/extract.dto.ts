import { TextField } from './classify.dto.js';

export class ExtractDto {
  /** The text to extract from (a ticket, an email…). */
  @TextField()
  text: string;
}
