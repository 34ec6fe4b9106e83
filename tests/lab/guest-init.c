/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The lab's test guest: PID 1 of a tiny initramfs.
 *
 * It loads the virtio modules, brings its NIC up, fills guest memory with data and
 * keeps rewriting part of it, so that save images and migrations carry real weight
 * (an idle guest saves in 1 MB).  Everything it does is reported on the console,
 * which the lab logs to a file that tests read.
 *
 * Arguments (after "--" on the kernel command line):
 *   --dirty R       rewrite R MiB of guest memory per second (default 0)
 *   --fill M        fill M MiB of memory (default: all but a small margin)
 *   --ip A/P        IPv4 address with prefix length for eth0
 *   --gw A          default gateway
 *   --ping A        ping A once a second, results on the console
 *   --disk-fill M   write M MiB of data to /dev/vda at first boot (default 16)
 *   --name N        name shown in the console lines
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MiB (1024UL * 1024UL)
#define PAGE 4096UL
#define DISK_MAGIC "FERRYDISK1"

struct options {
    unsigned long dirty_mib;
    long fill_mib; /* -1: automatic */
    const char *ip;
    const char *gw;
    const char *ping;
    unsigned long disk_fill_mib;
    const char *name;
};

static char boot_id[17] = "unknown";

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static double uptime_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_BOOTTIME, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void say(const char *fmt, ...)
{
    char line[512];
    va_list ap;
    int n = snprintf(line, sizeof line, "ferry-guest[%.3f]: ", uptime_seconds());
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - n, fmt, ap);
    va_end(ap);
    strncat(line, "\n", sizeof line - strlen(line) - 1);
    if (write(STDOUT_FILENO, line, strlen(line)) < 0) {
        /* nowhere else to report it */
    }
}

static void parse_options(int argc, char **argv, struct options *o)
{
    *o = (struct options){ .fill_mib = -1, .disk_fill_mib = 16, .name = "guest" };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            break;
        if (!strcmp(a, "--dirty"))
            o->dirty_mib = strtoul(v, NULL, 10);
        else if (!strcmp(a, "--fill"))
            o->fill_mib = strtol(v, NULL, 10);
        else if (!strcmp(a, "--ip"))
            o->ip = v;
        else if (!strcmp(a, "--gw"))
            o->gw = v;
        else if (!strcmp(a, "--ping"))
            o->ping = v;
        else if (!strcmp(a, "--disk-fill"))
            o->disk_fill_mib = strtoul(v, NULL, 10);
        else if (!strcmp(a, "--name"))
            o->name = v;
        else
            continue;
        i++;
    }
}

static void mount_basics(void)
{
    mkdir("/proc", 0755);
    mkdir("/sys", 0755);
    mkdir("/dev", 0755);
    mount("proc", "/proc", "proc", 0, NULL);
    mount("sysfs", "/sys", "sysfs", 0, NULL);
    mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
}

/* /lib/modules/order lists the modules in dependency order (written by mkguest). */
static void load_modules(void)
{
    FILE *f = fopen("/lib/modules/order", "r");
    char path[256];
    if (!f)
        return;
    while (fgets(path, sizeof path, f)) {
        path[strcspn(path, "\n")] = '\0';
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            say("module %s: %s", path, strerror(errno));
            continue;
        }
        if (syscall(SYS_finit_module, fd, "", 0) < 0 && errno != EEXIST)
            say("module %s: %s", path, strerror(errno));
        close(fd);
    }
    fclose(f);
}

static int wait_for_path(const char *path, double seconds)
{
    for (double t = 0; t < seconds; t += 0.05) {
        if (access(path, F_OK) == 0)
            return 0;
        usleep(50000);
    }
    return -1;
}

static int set_ipv4(int s, unsigned long req, const char *ifname, in_addr_t addr)
{
    struct ifreq ifr = { 0 };
    struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
    snprintf(ifr.ifr_name, IFNAMSIZ, "%s", ifname);
    sin->sin_family = AF_INET;
    sin->sin_addr.s_addr = addr;
    return ioctl(s, req, &ifr);
}

static void link_up(int s, const char *ifname)
{
    struct ifreq ifr = { 0 };
    snprintf(ifr.ifr_name, IFNAMSIZ, "%s", ifname);
    if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
        ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
        if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
            say("%s up: %s", ifname, strerror(errno));
    }
}

static void configure_network(const struct options *o)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return;
    link_up(s, "lo");
    if (wait_for_path("/sys/class/net/eth0", 10) < 0) {
        say("no NIC");
        close(s);
        return;
    }
    link_up(s, "eth0");
    char mac[32] = "?";
    FILE *f = fopen("/sys/class/net/eth0/address", "r");
    if (f) {
        if (fgets(mac, sizeof mac, f))
            mac[strcspn(mac, "\n")] = '\0';
        fclose(f);
    }
    if (o->ip) {
        char addr[64];
        snprintf(addr, sizeof addr, "%s", o->ip);
        char *slash = strchr(addr, '/');
        int prefix = 24;
        if (slash) {
            *slash = '\0';
            prefix = atoi(slash + 1);
        }
        in_addr_t mask = prefix ? htonl(~0U << (32 - prefix)) : 0;
        if (set_ipv4(s, SIOCSIFADDR, "eth0", inet_addr(addr)) < 0 ||
            set_ipv4(s, SIOCSIFNETMASK, "eth0", mask) < 0)
            say("eth0 address %s: %s", o->ip, strerror(errno));
    }
    if (o->gw) {
        struct rtentry rt = { 0 };
        struct sockaddr_in *gw = (struct sockaddr_in *)&rt.rt_gateway;
        struct sockaddr_in *dst = (struct sockaddr_in *)&rt.rt_dst;
        struct sockaddr_in *msk = (struct sockaddr_in *)&rt.rt_genmask;
        gw->sin_family = dst->sin_family = msk->sin_family = AF_INET;
        gw->sin_addr.s_addr = inet_addr(o->gw);
        rt.rt_flags = RTF_UP | RTF_GATEWAY;
        if (ioctl(s, SIOCADDRT, &rt) < 0)
            say("default route via %s: %s", o->gw, strerror(errno));
    }
    say("nic eth0 up mac=%s ip=%s", mac, o->ip ? o->ip : "none");
    close(s);
}

static void start_ping(const char *target)
{
    pid_t pid = fork();
    if (pid == 0) {
        execl("/bin/busybox", "ping", "-i", "1", target, (char *)NULL);
        _exit(127);
    }
}

static unsigned long mem_available_mib(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    char line[128];
    unsigned long kb = 0;
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %lu kB", &kb) == 1)
            break;
    fclose(f);
    return kb / 1024;
}

/* Each page gets data that differs from page to page and from pass to pass, so
 * neither zero-page detection nor a compressor can make the state small. */
static void write_page(uint64_t *page, uint64_t seed)
{
    uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 1;
    for (size_t i = 0; i < PAGE / sizeof *page; i += 8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        page[i] = x;
    }
}

static void prepare_disk(const struct options *o)
{
    if (wait_for_path("/dev/vda", 2) < 0)
        return;
    int fd = open("/dev/vda", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        say("disk vda: %s", strerror(errno));
        return;
    }
    char header[512] = { 0 };
    if (pread(fd, header, sizeof header, 0) == sizeof header &&
        !memcmp(header, DISK_MAGIC, strlen(DISK_MAGIC))) {
        unsigned long boots = strtoul(header + strlen(DISK_MAGIC) + 1, NULL, 10) + 1;
        snprintf(header, sizeof header, DISK_MAGIC " %lu %s", boots, o->name);
        if (pwrite(fd, header, sizeof header, 0) < 0 || fsync(fd) < 0)
            say("disk vda: %s", strerror(errno));
        say("disk vda: found data, boot %lu", boots);
        close(fd);
        return;
    }
    static uint64_t buf[MiB / sizeof(uint64_t)];
    unsigned long written = 0;
    for (unsigned long m = 1; m <= o->disk_fill_mib; m++, written++) {
        for (size_t p = 0; p < MiB / PAGE; p++)
            write_page(buf + p * (PAGE / sizeof *buf), m * 256 + p);
        if (pwrite(fd, buf, MiB, (off_t)(m * MiB)) != (ssize_t)MiB)
            break;
    }
    snprintf(header, sizeof header, DISK_MAGIC " 1 %s", o->name);
    if (pwrite(fd, header, sizeof header, 0) < 0 || fsync(fd) < 0)
        say("disk vda: %s", strerror(errno));
    say("disk vda: wrote %lu MiB", written);
    close(fd);
}

static void fill_and_dirty(const struct options *o)
{
    unsigned long avail = mem_available_mib();
    unsigned long fill = o->fill_mib >= 0 ? (unsigned long)o->fill_mib
                                          : (avail > 40 ? avail - 32 : 0);
    if (fill > avail)
        fill = avail > 8 ? avail - 8 : 0;
    size_t pages = fill * MiB / PAGE;
    uint8_t *mem = NULL;
    if (pages) {
        mem = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (mem == MAP_FAILED) {
            say("cannot map %lu MiB: %s", fill, strerror(errno));
            mem = NULL;
            pages = 0;
        }
    }
    for (size_t p = 0; p < pages; p++)
        write_page((uint64_t *)(mem + p * PAGE), p);
    say("ready name=%s filled=%lu MiB dirty=%lu MiB/s", o->name, fill, o->dirty_mib);

    /* Rewrite dirty_mib MiB every second in ten slices, walking through the fill. */
    size_t per_tick = pages ? o->dirty_mib * MiB / PAGE / 10 : 0;
    size_t cursor = 0;
    uint64_t pass = 1, ticks = 0, dirtied_pages = 0;
    for (;;) {
        struct timespec tick = { 0, 100 * 1000 * 1000 };
        for (size_t i = 0; i < per_tick; i++) {
            ((uint64_t *)(mem + cursor * PAGE))[0] = pass ^ cursor;
            if (++cursor == pages) {
                cursor = 0;
                pass++;
            }
        }
        dirtied_pages += per_tick;
        nanosleep(&tick, NULL);
        if (++ticks % 10 == 0)
            say("alive name=%s boot=%s dirtied=%lu MiB", o->name, boot_id,
                (unsigned long)(dirtied_pages * PAGE / MiB));
    }
}

/* A fresh id per boot: a guest restored from its saved state keeps printing the same one,
 * a rebooted guest prints another. */
static void make_boot_id(void)
{
    unsigned char bytes[8] = { 0 };
    if (getrandom(bytes, sizeof bytes, GRND_NONBLOCK) != (ssize_t)sizeof bytes) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        memcpy(bytes, &t.tv_nsec, sizeof t.tv_nsec < sizeof bytes ? sizeof t.tv_nsec : sizeof bytes);
    }
    for (size_t i = 0; i < sizeof bytes; i++)
        snprintf(boot_id + 2 * i, 3, "%02x", bytes[i]);
}

int main(int argc, char **argv)
{
    struct options o;
    signal(SIGCHLD, SIG_IGN); /* children (ping) are reaped by the kernel */
    parse_options(argc, argv, &o);
    mount_basics();
    say("init started");
    load_modules();
    configure_network(&o);
    make_boot_id();
    say("booted name=%s boot=%s", o.name, boot_id);
    prepare_disk(&o);
    if (o.ping)
        start_ping(o.ping);
    fill_and_dirty(&o);
    return 0;
}
