/* rendered_agrees(payload, head_response, max_head) -> bool: payloads/http1_render.repair_rendered's quick answer
 * in C: True when the message is one whose framing already agrees with its body, which repair_rendered returns
 * as it is, without notes; False when anything else may be (repair_rendered then works it out in Python).
 *
 * True exactly when repair_rendered's Python reaches its fast exit (_framing_agrees true): a header section ended
 * by CRLF CRLF and within max_head; a start line its two regexes take (a status line when it starts with "HTTP/":
 * "HTTP/1.d ddd" and an optional " reason" without CR or LF; else "method target HTTP/1.d", the method a token,
 * the target bytes other than controls, space and DEL); header lines each a token before its first colon; no
 * Transfer-Encoding or Content-Encoding line; and either a response without a body to frame (1xx, 204, 304, or
 * head_response), a request without body or Content-Length, or one Content-Length line whose value (parts
 * separated by commas, each 1 to 18 ASCII digits, all equal) is the body's length. A test holds it to the Python
 * on random messages (tests/payloads/test_http1_render_fast.py). What it saves: the head's lines split and looked
 * up one by one in Python, ~20k instructions a message. */
#include "_rendered.h"
#include <string.h>

static const char *
crlf(const char *p, const char *end) /* the first CRLF in [p, end) (both its bytes), or NULL */
{
    while (p + 1 < end) {
        const char *r = memchr(p, '\r', (size_t)(end - p - 1));
        if (r == NULL)
            return NULL;
        if (r[1] == '\n')
            return r;
        p = r + 1;
    }
    return NULL;
}

static int
is_tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c != 0 && strchr("!#$%&'*+.^_`|~-", c) != NULL);
}

static int
is_space(unsigned char c) /* what bytes.strip() strips */
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\x0b' || c == '\x0c';
}

static int
named(const char *p, Py_ssize_t n, const char *lower) /* p[:n].lower() == lower */
{
    if ((size_t)n != strlen(lower))
        return 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if ((c >= 'A' && c <= 'Z' ? c + 32 : c) != (unsigned char)lower[i])
            return 0;
    }
    return 1;
}

static int
is_http1_version(const char *p) /* "HTTP/1." and a digit */
{
    return memcmp(p, "HTTP/1.", 7) == 0 && p[7] >= '0' && p[7] <= '9';
}

/* The status of a status line (-1: not one). */
static int
status_of(const char *p, Py_ssize_t n)
{
    if (n < 12 || !is_http1_version(p) || p[8] != ' ')
        return -1;
    int status = 0;
    for (int i = 9; i < 12; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        status = status * 10 + (p[i] - '0');
    }
    if (n == 12)
        return status;
    if (p[12] != ' ' || memchr(p + 13, '\r', (size_t)(n - 13)) != NULL || memchr(p + 13, '\n', (size_t)(n - 13)))
        return -1;
    return status;
}

static int
is_request_line(const char *p, Py_ssize_t n)
{
    Py_ssize_t i = 0;
    while (i < n && p[i] != ' ') {
        if (!is_tchar((unsigned char)p[i]))
            return 0;
        i++;
    }
    if (i == 0 || i == n)
        return 0;
    Py_ssize_t target = ++i;
    while (i < n && p[i] != ' ') {
        unsigned char c = (unsigned char)p[i];
        if (c <= 0x20 || c == 0x7f)
            return 0;
        i++;
    }
    return i > target && n - i == 9 && is_http1_version(p + i + 1);
}

/* The length a Content-Length value declares as _declared_length reads it (-1: invalid or inconsistent). */
static long long
declared(const char *p, const char *end)
{
    long long found = -1;
    while (1) {
        const char *comma = memchr(p, ',', (size_t)(end - p)), *stop = comma ? comma : end;
        const char *a = p, *b = stop;
        while (a < b && is_space((unsigned char)*a))
            a++;
        while (b > a && is_space((unsigned char)b[-1]))
            b--;
        if (b - a < 1 || b - a > 18)
            return -1;
        long long v = 0;
        for (; a < b; a++) {
            if (*a < '0' || *a > '9')
                return -1;
            v = v * 10 + (*a - '0');
        }
        if (found >= 0 && v != found)
            return -1;
        found = v;
        if (comma == NULL)
            return found;
        p = comma + 1;
    }
}

static int
agrees(const char *p, Py_ssize_t n, int head, Py_ssize_t max_head)
{
    const char *all = p + n, *end = p;
    while ((end = crlf(end, all)) != NULL && !(end + 3 < all && end[2] == '\r' && end[3] == '\n'))
        end += 1;
    if (end == NULL || end - p + 4 > max_head)
        return 0;
    const char *eol = crlf(p, end), *start_end = eol ? eol : end;
    int status = -1;
    if (n >= 5 && memcmp(p, "HTTP/", 5) == 0) {
        if ((status = status_of(p, start_end - p)) < 0)
            return 0;
    }
    else if (!is_request_line(p, start_end - p))
        return 0;
    int lengths = 0;
    long long length = -1;
    for (const char *line = eol ? eol + 2 : end; line < end || (eol && line == end);) {
        const char *stop = crlf(line, end);
        stop = stop ? stop : end;
        const char *colon = memchr(line, ':', (size_t)(stop - line));
        if (colon == NULL || colon == line)
            return 0;
        for (const char *c = line; c < colon; c++)
            if (!is_tchar((unsigned char)*c))
                return 0;
        if (named(line, colon - line, "transfer-encoding") || named(line, colon - line, "content-encoding"))
            return 0; /* (the rules decide) */
        if (named(line, colon - line, "content-length")) {
            lengths++;
            length = declared(colon + 1, stop);
        }
        if (stop == end)
            break;
        line = stop + 2;
    }
    Py_ssize_t body = all - end - 4;
    if (status >= 0 && (status < 200 || status == 204 || status == 304 || head))
        return 1; /* (a Content-Length there frames no body: left as it is) */
    if (lengths == 0)
        return body == 0 && status < 0;
    return lengths == 1 && length == body;
}

PyObject *
ecq_rendered_agrees(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_Format(PyExc_TypeError, "rendered_agrees() takes 3 arguments (%zd given)", nargs);
        return NULL;
    }
    int head = PyObject_IsTrue(args[1]);
    Py_ssize_t max_head = PyLong_AsSsize_t(args[2]);
    if (head < 0 || (max_head == -1 && PyErr_Occurred()))
        return NULL;
    if (!PyBytes_Check(args[0])) /* (another bytes-like payload: the Python decides) */
        Py_RETURN_FALSE;
    return PyBool_FromLong(agrees(PyBytes_AS_STRING(args[0]), PyBytes_GET_SIZE(args[0]), head, max_head));
}
