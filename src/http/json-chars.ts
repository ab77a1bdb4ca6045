// The character codes of JSON's structure, for the scanners that read JSON
// text without parsing it (the nesting check of admission bodies, the
// streamed Prometheus answer). The same in UTF-8 bytes and UTF-16 code units.
export const QUOTE = 0x22;
export const BACKSLASH = 0x5c;
export const OPEN_ARRAY = 0x5b;
export const OPEN_OBJECT = 0x7b;
export const CLOSE_ARRAY = 0x5d;
export const CLOSE_OBJECT = 0x7d;
export const COLON = 0x3a;
