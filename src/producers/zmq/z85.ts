/** ZeroMQ's Z85 text encoding (RFC 32): 4 bytes ↔ 5 characters; a CURVE key is 32 bytes, 40 characters. */

const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#';

/** The Z85 text of `bytes` (a multiple of 4). */
export function z85Encode(bytes: Uint8Array): string {
  if (bytes.length % 4 !== 0) throw new Error('z85 needs a multiple of 4 bytes');
  let out = '';
  for (let i = 0; i < bytes.length; i += 4) {
    let v = ((bytes[i] << 24) | (bytes[i + 1] << 16) | (bytes[i + 2] << 8) | bytes[i + 3]) >>> 0;
    let chunk = '';
    for (let j = 0; j < 5; j++) {
      chunk = ALPHABET[v % 85] + chunk;
      v = Math.floor(v / 85);
    }
    out += chunk;
  }
  return out;
}

/** The bytes of a Z85 text, or why it is not one (a character outside the alphabet, a group over 2^32 - 1). */
export function z85Decode(text: string): { bytes: Uint8Array } | { reason: string } {
  if (text.length % 5 !== 0) return { reason: `${text.length} characters is not a multiple of 5` };
  const bytes = new Uint8Array((text.length / 5) * 4);
  for (let i = 0; i < text.length; i += 5) {
    let v = 0;
    for (let j = 0; j < 5; j++) {
      const d = ALPHABET.indexOf(text[i + j]);
      if (d < 0) return { reason: `${JSON.stringify(text[i + j])} at position ${i + j + 1} is not a Z85 character` };
      v = v * 85 + d;
    }
    if (v > 0xffffffff) return { reason: `characters ${i + 1}-${i + 5} do not encode 4 bytes` };
    const o = (i / 5) * 4;
    bytes[o] = v >>> 24;
    bytes[o + 1] = (v >>> 16) & 0xff;
    bytes[o + 2] = (v >>> 8) & 0xff;
    bytes[o + 3] = v & 0xff;
  }
  return { bytes };
}
