/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The fuzz harnesses' driver for `make check` (built with gcc, without libFuzzer): runs one
 * harness over its seed corpus, then over deterministic mutations of it (bit flips, byte
 * changes, insertions, deletions, duplications, truncations, splices of two inputs, XML and
 * key-file tokens), drawn from a seeded PRNG, until a count or a time is reached. Under the
 * ASan/UBSan build (./configure --enable-sanitizers) a memory error ends the run.
 *
 * Usage: fuzz-NAME [FILE...]   (with files: runs just those, to reproduce a crash)
 * Environment: VIRT_FERRY_FUZZ_CORPUS (the corpus root; default tests/fuzz/corpus of the
 * source tree; the harness's own directory is <root>/NAME), VIRT_FERRY_FUZZ_SECONDS (10),
 * VIRT_FERRY_FUZZ_RUNS (200000), VIRT_FERRY_FUZZ_SEED (1).
 * Output: TAP. On a crash the input is left in ./fuzz-NAME.crash (see crash_handler). */
#include "fuzz.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FUZZ_MAX_INPUT (256 * 1024)

static const char *const tokens[] = {
    "<", ">", "</", "/>", "='", "=\"", "'", "\"", "&amp;", "&lt;", "&#0;", "&#xD800;", "&x;", "<![CDATA[", "]]>",
    "<!--", "-->", "<?xml version='1.0'?>", "<!DOCTYPE domain [<!ENTITY x 'y'>]>", "xmlns:ferry=", ":",
    "<domain>", "</domain>", "<name>", "<uuid>", "<metadata>", "<interface type='network'>", "<vlan>",
    "<tag id='", "<portgroup name='", "<disk type='file'>", "<source file='", "<target dev='",
    "-1", "0", "4095", "4096", "99999999999999999999", "1e9", "-9223372036854775808", "0x", "\xff", "\xc3",
    "\xf0\x9f\x98", "\n", "\r\n", "\t", " ", "[", "]", "=", ";", "\\", "\\n", "[archive]", "[entry]",
    "[file:", "[nic:", "[peers]", "[failover]", "uris=", "dir=", "..", "/", "../../etc/passwd", "%s%n",
};

typedef struct {
    GPtrArray *inputs; /* GBytes */
    GRand *rand;
} Corpus;

/* The input being run, for the crash handler. */
static const uint8_t *current;
static size_t current_size;
static char crash_path[4096];

/* Leaves the input that crashed where it can be replayed (`fuzz-NAME fuzz-NAME.crash`), then
 * dies of the same signal. Only async-signal-safe calls. */
static void crash_handler(int sig)
{
    int fd = open(crash_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        size_t done = 0;
        while (done < current_size) {
            ssize_t n = write(fd, current + done, current_size - done);
            if (n <= 0)
                break;
            done += n;
        }
        close(fd);
    }
    static const char msg[] = "# fuzz: crashed; the input is in the .crash file named by this test's program\n";
    ssize_t ignored = write(STDOUT_FILENO, msg, sizeof msg - 1);
    (void)ignored;
    signal(sig, SIG_DFL);
    raise(sig);
}

static void run_one(const uint8_t *data, size_t size)
{
    current = data;
    current_size = size;
    LLVMFuzzerTestOneInput(data, size);
    current = NULL;
    current_size = 0;
}

static guint env_uint(const char *name, guint fallback)
{
    const char *v = g_getenv(name);
    guint64 n;
    if (v && g_ascii_string_to_unsigned(v, 10, 0, G_MAXUINT, &n, NULL))
        return (guint)n;
    return fallback;
}

static gint by_name(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void load_corpus(Corpus *c, const char *dir)
{
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    for (const char *name = d ? g_dir_read_name(d) : NULL; name; name = g_dir_read_name(d))
        g_ptr_array_add(names, g_strdup(name));
    /* Directory order is no order: sorted, a seed gives the same run everywhere. */
    g_ptr_array_sort(names, by_name);
    for (guint i = 0; i < names->len; i++) {
        g_autofree char *path = g_build_filename(dir, g_ptr_array_index(names, i), NULL);
        char *data;
        gsize len;
        if (g_file_get_contents(path, &data, &len, NULL))
            g_ptr_array_add(c->inputs, g_bytes_new_take(data, len));
    }
}

static GBytes *pick(Corpus *c)
{
    return g_ptr_array_index(c->inputs, g_rand_int_range(c->rand, 0, c->inputs->len));
}

static void insert_bytes(GByteArray *buf, guint at, const guint8 *bytes, guint n)
{
    guint len = buf->len;
    g_byte_array_set_size(buf, len + n);
    memmove(buf->data + at + n, buf->data + at, len - at);
    memcpy(buf->data + at, bytes, n);
}

/* One mutation of @buf in place. */
static void mutate_once(Corpus *c, GByteArray *buf)
{
    GRand *r = c->rand;
    guint len = buf->len;
    guint at = len ? g_rand_int_range(r, 0, len) : 0;
    switch (g_rand_int_range(r, 0, 10)) {
    case 0: /* flip a bit */
        if (len)
            buf->data[at] ^= 1u << g_rand_int_range(r, 0, 8);
        break;
    case 1: { /* any byte */
        if (len)
            buf->data[at] = (guint8)g_rand_int_range(r, 0, 256);
        break;
    }
    case 2: { /* insert bytes */
        guint8 bytes[8];
        guint n = g_rand_int_range(r, 1, sizeof bytes + 1);
        for (guint i = 0; i < n; i++)
            bytes[i] = (guint8)g_rand_int_range(r, 0, 256);
        insert_bytes(buf, at, bytes, n);
        break;
    }
    case 3: /* delete a range */
        if (len)
            g_byte_array_remove_range(buf, at, g_rand_int_range(r, 1, MIN(len - at, 64u) + 1));
        break;
    case 4: { /* duplicate a range */
        if (len) {
            guint n = g_rand_int_range(r, 1, MIN(len - at, 256u) + 1);
            g_autofree guint8 *copy = g_memdup2(buf->data + at, n);
            guint to = g_rand_int_range(r, 0, len + 1);
            insert_bytes(buf, to, copy, n);
        }
        break;
    }
    case 5: /* truncate */
        g_byte_array_set_size(buf, at);
        break;
    case 6: case 7: { /* a token */
        const char *t = tokens[g_rand_int_range(r, 0, G_N_ELEMENTS(tokens))];
        insert_bytes(buf, at, (const guint8 *)t, strlen(t));
        break;
    }
    case 8: { /* splice: this input's head, another's tail */
        GBytes *other = pick(c);
        gsize olen;
        const guint8 *odata = g_bytes_get_data(other, &olen);
        gsize from = olen ? g_rand_int_range(r, 0, olen) : 0;
        g_byte_array_set_size(buf, at);
        g_byte_array_append(buf, odata + from, olen - from);
        break;
    }
    default: { /* copy a range over another place */
        if (len > 1) {
            guint n = g_rand_int_range(r, 1, MIN(len - at, 32u) + 1);
            guint to = g_rand_int_range(r, 0, len - n + 1);
            memmove(buf->data + to, buf->data + at, n);
        }
        break;
    }
    }
    if (buf->len > FUZZ_MAX_INPUT)
        g_byte_array_set_size(buf, FUZZ_MAX_INPUT);
}

static int run_files(char **files)
{
    int n = 0;
    for (char **f = files; *f; f++) {
        char *data;
        gsize len;
        g_autoptr(GError) error = NULL;
        if (!g_file_get_contents(*f, &data, &len, &error)) {
            g_printerr("%s\n", error->message);
            return 2;
        }
        run_one((const uint8_t *)data, len);
        g_free(data);
        printf("ok %d - %s\n", ++n, *f);
    }
    printf("1..%d\n", n);
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    g_autofree char *name = g_path_get_basename(argv[0]);
    const char *harness = g_str_has_prefix(name, "fuzz-") ? name + 5 : name;
    g_snprintf(crash_path, sizeof crash_path, "fuzz-%s.crash", harness);
    signal(SIGSEGV, crash_handler);
    signal(SIGABRT, crash_handler);
    signal(SIGBUS, crash_handler);
    signal(SIGFPE, crash_handler);
    signal(SIGILL, crash_handler);
    if (argc > 1)
        return run_files(argv + 1);

    const char *root = g_getenv("VIRT_FERRY_FUZZ_CORPUS");
    g_autofree char *dir = g_build_filename(root ? root : FUZZ_CORPUS_ROOT, harness, NULL);
    guint seconds = env_uint("VIRT_FERRY_FUZZ_SECONDS", 10);
    guint runs = env_uint("VIRT_FERRY_FUZZ_RUNS", 200000);
    guint seed = env_uint("VIRT_FERRY_FUZZ_SEED", 1);
    Corpus c = { g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref), g_rand_new_with_seed(seed) };
    load_corpus(&c, dir);
    printf("1..2\n");
    if (c.inputs->len == 0) {
        printf("not ok 1 - a seed corpus in %s\n", dir);
        printf("not ok 2 - mutations # SKIP no corpus\n");
        return 1;
    }
    for (guint i = 0; i < c.inputs->len; i++) {
        gsize len;
        const uint8_t *data = g_bytes_get_data(g_ptr_array_index(c.inputs, i), &len);
        run_one(data, len);
    }
    printf("ok 1 - the %u inputs of %s\n", c.inputs->len, dir);

    gint64 t0 = g_get_monotonic_time(), deadline = t0 + (gint64)seconds * G_USEC_PER_SEC;
    g_autoptr(GByteArray) buf = g_byte_array_new();
    guint done = 0;
    for (; done < runs && g_get_monotonic_time() < deadline; done++) {
        /* Mostly fresh from a seed; sometimes the last mutant mutated further. */
        if (buf->len == 0 || g_rand_int_range(c.rand, 0, 4) != 0) {
            gsize len;
            const guint8 *data = g_bytes_get_data(pick(&c), &len);
            g_byte_array_set_size(buf, 0);
            g_byte_array_append(buf, data, len);
        }
        for (int m = g_rand_int_range(c.rand, 1, 5); m > 0; m--)
            mutate_once(&c, buf);
        run_one(buf->data, buf->len);
    }
    printf("ok 2 - %u mutations in %.1f s (VIRT_FERRY_FUZZ_SEED=%u, at most %u runs or %u s)\n", done,
           (g_get_monotonic_time() - t0) / 1e6, seed, runs, seconds);
    g_ptr_array_unref(c.inputs);
    g_rand_free(c.rand);
    return 0;
}
