/* Fast path of the Criteo TSV parser (sw_driver/data/criteo_fast.py loads it with ctypes).
 *
 * hl_parse_criteo parses a chunk of whole lines of raw Criteo TSV in one pass over its bytes,
 * into the same arrays as the numpy parser (sw_driver/data/criteo_parser.py, _parse_chunk):
 *
 *   labels[n]        float32, the label (0 or 1)
 *   dense[n * 13]    int64, the integer features: empty -> 0, negative -> 0 (DLRM's
 *                    X_int[X_int < 0] = 0), else the value (at most 18 digits)
 *   cats[n * 26]     uint64, the categorical features: empty -> 0, else int(field, 16)
 *                    (at most 16 hex digits, either case)
 *
 * It accepts only lines that are well formed as they stand (40 fields; label "0" or "1";
 * integers empty or -?[0-9]{1,18} with at least one digit after a minus; ids empty or
 * [0-9A-Fa-f]{1,16}; LF or CRLF line ends) and returns the number of lines parsed. On the first
 * anything else (a malformed or short line, a lone CR, more lines than max_lines, a chunk not
 * ending in LF) it returns -1 and the caller parses the chunk with the numpy parser, which
 * flags, pads or reports such lines exactly. Pure C99, no allocation, no global state.
 */

#include <stddef.h>
#include <stdint.h>

#define N_DENSE 13
#define N_TABLES 26
#define MAX_DENSE_DIGITS 18
#define MAX_HEX_DIGITS 16

/* Hex digit value + 1 (0: not a hex digit). */
static const unsigned char HEX1[256] = {
    ['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5, ['5'] = 6, ['6'] = 7, ['7'] = 8,
    ['8'] = 9, ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15,
    ['f'] = 16, ['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
};

#if defined(_WIN32)
#define HL_EXPORT __declspec(dllexport)
#else
#define HL_EXPORT __attribute__((visibility("default")))
#endif

HL_EXPORT long hl_parse_criteo(const unsigned char *text, size_t size, size_t max_lines,
                               float *labels, int64_t *dense, uint64_t *cats)
{
    const unsigned char *p = text;
    const unsigned char *end = text + size;
    size_t line = 0;

    if (size == 0)
        return 0;
    if (end[-1] != '\n')
        return -1;
    /* Every field below ends at a TAB or at the line's LF, and the chunk ends with an LF, so
     * the scans stop inside the buffer: p < end holds wherever *p is read. */
    while (p < end) {
        if (line == max_lines)
            return -1;
        if ((p[0] != '0' && p[0] != '1') || p[1] != '\t')
            return -1;
        labels[line] = (float)(p[0] - '0');
        p += 2;

        int64_t *d = dense + line * N_DENSE;
        for (int k = 0; k < N_DENSE; k++) {
            int negative = 0;
            if (*p == '-') {
                negative = 1;
                p++;
            }
            const unsigned char *digits = p;
            uint64_t value = 0;
            while ((unsigned)(*p - '0') < 10u) {
                value = value * 10u + (uint64_t)(*p - '0');
                p++;
            }
            ptrdiff_t length = p - digits;
            if (length > MAX_DENSE_DIGITS || (negative && length == 0) || *p != '\t')
                return -1;
            p++;
            d[k] = negative ? 0 : (int64_t)value;
        }

        uint64_t *c = cats + line * N_TABLES;
        for (int k = 0; k < N_TABLES; k++) {
            const unsigned char *digits = p;
            uint64_t value = 0;
            unsigned h;
            while ((h = HEX1[*p]) != 0) {
                value = (value << 4) | (uint64_t)(h - 1u);
                p++;
            }
            if (p - digits > MAX_HEX_DIGITS)
                return -1;
            if (k < N_TABLES - 1) {
                if (*p != '\t')
                    return -1;
                p++;
            } else if (*p == '\n') {
                p++;
            } else if (*p == '\r' && p + 1 < end && p[1] == '\n') {
                p += 2;
            } else {
                return -1;
            }
            c[k] = value;
        }
        line++;
    }
    return (long)line;
}
