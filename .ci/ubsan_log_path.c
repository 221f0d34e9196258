/*
 * Preloaded by .ci/sanitize.sh after libasan and libubsan: sends UBSan's
 * reports to the log_path of UBSAN_OPTIONS, as ASan's go to ASAN_OPTIONS'.
 *
 * Why it is needed: with GCC, -fsanitize=address,undefined uses two runtimes
 * (libasan, libubsan), each with its own copy of the sanitizer common code
 * and its own report file.  Both export __sanitizer_set_report_path, and
 * libasan, loaded first, wins the symbol lookup: when libubsan initialises
 * (lazily, at its first report) its call to set its own log_path sets
 * libasan's instead, and UBSan's reports go to stderr -- where the tests
 * that capture a child's stderr would see them and the log files would not.
 * Here libubsan's own function is looked up in libubsan itself and called
 * once at start-up.  (libasan's path then also gets UBSAN_OPTIONS' log_path
 * when libubsan initialises: the script gives both the same log_path and
 * tells the files apart with log_suffix.)
 *
 * Linked against libubsan so that the dynamic loader initialises libubsan
 * before this constructor runs.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

__attribute__((constructor)) static void set_ubsan_report_path(void)
{
    const char *opts = getenv("UBSAN_OPTIONS");
    const char *p = opts ? strstr(opts, "log_path=") : NULL;
    char path[4096];
    size_t n;
    void *ubsan;
    void (*set_report_path)(const char *);

    if (p == NULL)
        return;
    p += strlen("log_path=");
    n = strcspn(p, ":");
    if (n == 0 || n >= sizeof path)
        return;
    memcpy(path, p, n);
    path[n] = '\0';
    ubsan = dlopen("libubsan.so.1", RTLD_NOW | RTLD_NOLOAD);
    if (ubsan == NULL)
        return;
    set_report_path = (void (*)(const char *))dlsym(ubsan, "__sanitizer_set_report_path");
    if (set_report_path != NULL)
        set_report_path(path);
}
