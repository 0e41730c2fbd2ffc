/** UTF-8 helpers for names stored in shared memory (TextDecoder refuses shared views). */
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function utf8Encode(s: string): Uint8Array {
  return encoder.encode(s);
}

export function utf8Decode(bytes: Uint8Array): string {
  return decoder.decode(bytes.buffer instanceof SharedArrayBuffer ? bytes.slice() : bytes);
}
