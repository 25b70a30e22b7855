/**
 * Characters a broker drops the whole connection on (mosquitto answers them as a malformed packet):
 * C0 controls (NUL included), DEL, C1 controls and Unicode noncharacters, which are U+FDD0–U+FDEF
 * and the last two code points of every plane (a surrogate pair whose high half ends in 3F and
 * whose low half is DFFE/DFFF).
 */
const CLASS = String.raw`\u0000-\u001f\u007f-\u009f\ufdd0-\ufdef\ufffe\uffff`;
const PLANE_END = String.raw`[\ud83f\ud87f\ud8bf\ud8ff\ud93f\ud97f\ud9bf\ud9ff\uda3f\uda7f\udabf\udaff\udb3f\udb7f\udbbf\udbff][\udffe\udfff]`;

/**
 * A regex for those characters, plus `also` (characters in regex class syntax) and `or` (more
 * alternatives), so each caller adds its own rules to one list.
 */
export function refusedChars(also: string, or: string[] = [], flags = ''): RegExp {
  return new RegExp([`[${CLASS}${also}]`, PLANE_END, ...or].join('|'), flags);
}
