/*
 * libfakecam: UVC-like V4L2 capture devices in userspace, for tests.
 *
 * LD_PRELOAD this library into any dynamically linked program (FFmpeg, the
 * `hook` binary, python3...) and set FAKECAM_DIR to a control directory. An
 * open() of a character node with major 81 whose minor the control
 * directory's `config` names is then served by this library instead of the
 * kernel (which, on a machine without V4L2, would answer ENXIO):
 *
 *  - the caller gets a real descriptor on the node (opened O_PATH), so
 *    fstat() and /proc/PID/fd show the camera exactly as with a driver;
 *  - the kernel's permission check is redone with faccessat(AT_EACCESS)
 *    (root passes, a user outside the node's group gets EACCES);
 *  - ioctl() (and syscall(SYS_ioctl, ...), which the Rust `v4l` crate uses),
 *    mmap(), poll(), dup(), fcntl() and close() on that descriptor behave
 *    like the uvcvideo driver: QUERYCAP, ENUM_FMT, ENUM_FRAMESIZES,
 *    ENUM_FRAMEINTERVALS (discrete), G/S/TRY_FMT, G/S_PARM, ENUMINPUT,
 *    G/S_INPUT, REQBUFS (MMAP), QUERYBUF, QBUF, DQBUF, STREAMON, STREAMOFF;
 *    the analog-TV ioctls (G_STD, ENUMSTD...) answer ENOTTY as uvcvideo does.
 *    Buffers are memfds; frames are paced at the frame rate, timestamped with
 *    CLOCK_MONOTONIC (V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC); a non-blocking
 *    DQBUF with no frame due gives EAGAIN, a blocking one sleeps. A frame
 *    fills the oldest buffer queued when it is due (a late reader gets them
 *    all, with their capture times); with no buffer queued it is dropped.
 *  - MJPEG frames and H.264 access units are read from media files (a
 *    concatenation of JPEGs split on SOI/EOI, an Annex B stream split on
 *    access unit delimiters); YUYV frames are generated (moving bars).
 *  - a metadata node (V4L2_CAP_META_CAPTURE, format UVCH) can sit beside a
 *    capture node, as uvcvideo registers one next to each camera.
 *
 * Faults, as a real camera has them:
 *  - busy: the first descriptor that sets the format or parameters, requests
 *    buffers or starts streaming owns the camera (uvcvideo's "privileges")
 *    until it is closed or frees its buffers (REQBUFS 0); any other
 *    descriptor, in this process or another, gets EBUSY from those ioctls.
 *    The ownership is an flock() on FAKECAM_DIR/lock-<id>.<generation>, so
 *    it ends when the owner dies, and a replugged camera starts unowned.
 *  - USB bandwidth: `streamon_errno 28` makes STREAMON fail with ENOSPC.
 *  - unplug: FAKECAM_DIR/plug-<id> holds the camera's plug generation. When
 *    it is missing or differs from the one read at open, every ioctl on the
 *    descriptor (DQBUF and QBUF included) fails with ENODEV. (Removing the
 *    nodes, so that open gives ENOENT, is the test's part, as udev's.)
 *  - slow start: `delay_ms N` delays the first frame after STREAMON.
 *  - permission: the node's own mode and owner, checked at open.
 *
 * FAKECAM_DIR/config, re-read on every open (so a camera can come back under
 * another minor), one directive per line, `#` starts a comment line:
 *
 *   camera <minor> <id>        starts a camera: capture node minor, and a
 *                              name for its plug and lock files
 *                              ([A-Za-z0-9._-], up to 63 characters)
 *   card <text>                QUERYCAP card (default "Fake Camera")
 *   bus <text>                 QUERYCAP bus_info (default "usb-0000:00:14.0-1")
 *   driver <text>              QUERYCAP driver (default "uvcvideo")
 *   meta <minor>               a metadata node for this camera
 *   delay_ms <n>               the first frame comes n ms after STREAMON
 *   streamon_errno <n>         STREAMON fails with errno n
 *   size <FOURCC> <W>x<H> <fps>[,<fps>...] [<media file>]
 *                              one frame size of a format (MJPG, YUYV, H264);
 *                              formats are listed in the order they first
 *                              appear, sizes and rates in the order given
 *                              (the first of each is the default); MJPG and
 *                              H264 sizes need a media file
 *
 * Build: cc -shared -fPIC -O2 -Wall -Wextra -o libfakecam.so fakecam.c -ldl -pthread
 */
#undef _FORTIFY_SOURCE
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <linux/videodev2.h>

#define V4L2_MAJOR 81
#define FD_MAX 65536
#define MAX_FMTS 4
#define MAX_SIZES 16
#define MAX_RATES 8
#define MAX_BUFS 32
#define ID_MAX 64

/* ------------------------------------------------------------------ */
/* The real functions.                                                 */

typedef int (*openat_fn)(int, const char *, int, ...);
typedef int (*open_fn)(const char *, int, ...);
typedef int (*close_fn)(int);
typedef int (*ioctl_fn)(int, unsigned long, ...);
typedef long (*syscall_fn)(long, ...);
typedef void *(*mmap_fn)(void *, size_t, int, int, int, off_t);
typedef int (*dup_fn)(int);
typedef int (*dup2_fn)(int, int);
typedef int (*dup3_fn)(int, int, int);
typedef int (*fcntl_fn)(int, int, ...);
typedef int (*poll_fn)(struct pollfd *, nfds_t, int);
typedef int (*ppoll_fn)(struct pollfd *, nfds_t, const struct timespec *, const sigset_t *);

static void *real(const char *name)
{
    void *p = dlsym(RTLD_NEXT, name);
    if (!p) {
        static const char msg[] = "fakecam: a libc function is missing\n";
        ssize_t r = write(2, msg, sizeof msg - 1);
        (void)r;
        abort();
    }
    return p;
}

#define REAL(type, name)                                        \
    static type real_##name(void)                               \
    {                                                           \
        static type fn;                                         \
        type f = __atomic_load_n(&fn, __ATOMIC_ACQUIRE);        \
        if (!f) {                                               \
            f = (type)real(#name);                              \
            __atomic_store_n(&fn, f, __ATOMIC_RELEASE);         \
        }                                                       \
        return f;                                               \
    }

REAL(openat_fn, openat)
REAL(openat_fn, openat64)
REAL(open_fn, open)
REAL(open_fn, open64)
REAL(close_fn, close)
REAL(ioctl_fn, ioctl)
REAL(syscall_fn, syscall)
REAL(mmap_fn, mmap)
REAL(mmap_fn, mmap64)
REAL(dup_fn, dup)
REAL(dup2_fn, dup2)
REAL(dup3_fn, dup3)
REAL(fcntl_fn, fcntl)
REAL(fcntl_fn, fcntl64)
REAL(poll_fn, poll)
REAL(ppoll_fn, ppoll)

/* Internal file access never goes through the interposed functions. */
static int sys_open(const char *path, int flags, int mode)
{
    return (int)real_syscall()(SYS_openat, AT_FDCWD, path, flags | O_CLOEXEC, mode);
}

static int sys_close(int fd)
{
    return (int)real_syscall()(SYS_close, fd);
}

/* ------------------------------------------------------------------ */
/* Configuration.                                                      */

struct size {
    uint32_t w, h;
    int nrates;
    uint32_t fps[MAX_RATES];
    char *media;
};

struct format {
    uint32_t fourcc;
    int nsizes;
    struct size sizes[MAX_SIZES];
};

struct cam {
    int minor;
    int meta_minor;
    char id[ID_MAX];
    char card[32];
    char bus[32];
    char driver[16];
    long delay_ms;
    int streamon_errno;
    int nfmts;
    struct format fmts[MAX_FMTS];
};

static const char *ctl_dir(void)
{
    static const char *dir;
    static int done;
    if (!__atomic_load_n(&done, __ATOMIC_ACQUIRE)) {
        const char *d = getenv("FAKECAM_DIR");
        dir = (d && *d) ? strdup(d) : NULL;
        __atomic_store_n(&done, 1, __ATOMIC_RELEASE);
    }
    return dir;
}

static void cam_free(struct cam *c)
{
    if (!c)
        return;
    for (int f = 0; f < c->nfmts; f++)
        for (int s = 0; s < c->fmts[f].nsizes; s++)
            free(c->fmts[f].sizes[s].media);
    free(c);
}

/* Reads a whole small file with raw syscalls; NUL-terminated, malloc'd. */
static char *slurp(const char *path, size_t *len)
{
    int fd = sys_open(path, O_RDONLY, 0);
    if (fd < 0)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    for (;;) {
        if (!buf)
            break;
        if (n == cap) {
            char *b = realloc(buf, cap * 2 + 1);
            if (!b) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = b;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    sys_close(fd);
    if (buf)
        buf[n] = 0;
    if (len)
        *len = n;
    return buf;
}

static uint32_t fourcc_of(const char *s)
{
    char c[4] = {' ', ' ', ' ', ' '};
    for (int i = 0; i < 4 && s[i]; i++)
        c[i] = s[i];
    return v4l2_fourcc(c[0], c[1], c[2], c[3]);
}

static void copy_text(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src);
}

/* Parses one `size` directive into camera c. */
static void parse_size(struct cam *c, char *args)
{
    char *save = NULL;
    char *fcc = strtok_r(args, " \t", &save);
    char *dims = strtok_r(NULL, " \t", &save);
    char *rates = strtok_r(NULL, " \t", &save);
    char *media = strtok_r(NULL, "", &save);
    unsigned w, h;
    if (!fcc || !dims || !rates || sscanf(dims, "%ux%u", &w, &h) != 2)
        return;
    uint32_t fourcc = fourcc_of(fcc);
    struct format *f = NULL;
    for (int i = 0; i < c->nfmts; i++)
        if (c->fmts[i].fourcc == fourcc)
            f = &c->fmts[i];
    if (!f) {
        if (c->nfmts == MAX_FMTS)
            return;
        f = &c->fmts[c->nfmts++];
        memset(f, 0, sizeof *f);
        f->fourcc = fourcc;
    }
    if (f->nsizes == MAX_SIZES)
        return;
    struct size *s = &f->sizes[f->nsizes];
    memset(s, 0, sizeof *s);
    s->w = w;
    s->h = h;
    char *rsave = NULL;
    for (char *r = strtok_r(rates, ",", &rsave); r && s->nrates < MAX_RATES;
         r = strtok_r(NULL, ",", &rsave)) {
        unsigned fps = (unsigned)strtoul(r, NULL, 10);
        if (fps > 0)
            s->fps[s->nrates++] = fps;
    }
    if (s->nrates == 0)
        return;
    if (media) {
        while (*media == ' ' || *media == '\t')
            media++;
        if (*media)
            s->media = strdup(media);
    }
    f->nsizes++;
}

/* The camera whose capture or metadata node has `minor`, from the config
 * file as it is now; NULL when none. */
static struct cam *load_cam(int minor)
{
    const char *dir = ctl_dir();
    if (!dir)
        return NULL;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/config", dir);
    char *text = slurp(path, NULL);
    if (!text)
        return NULL;
    struct cam *found = NULL, *cur = NULL;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        while (*line == ' ' || *line == '\t')
            line++;
        size_t l = strlen(line);
        while (l && (line[l - 1] == ' ' || line[l - 1] == '\t' || line[l - 1] == '\r'))
            line[--l] = 0;
        if (!*line || *line == '#')
            continue;
        char *sp = line + strcspn(line, " \t");
        char *arg = sp;
        if (*sp) {
            *sp = 0;
            arg = sp + 1;
            while (*arg == ' ' || *arg == '\t')
                arg++;
        }
        if (!strcmp(line, "camera")) {
            if (cur && !found && (cur->minor == minor || cur->meta_minor == minor))
                found = cur;
            else if (cur)
                cam_free(cur);
            cur = calloc(1, sizeof *cur);
            if (!cur)
                break;
            char id[ID_MAX] = "";
            int m = -1;
            if (sscanf(arg, "%d %63s", &m, id) < 1)
                m = -1;
            cur->minor = m;
            cur->meta_minor = -1;
            copy_text(cur->id, sizeof cur->id, id[0] ? id : "camera");
            copy_text(cur->card, sizeof cur->card, "Fake Camera");
            copy_text(cur->bus, sizeof cur->bus, "usb-0000:00:14.0-1");
            copy_text(cur->driver, sizeof cur->driver, "uvcvideo");
        } else if (!cur) {
            continue;
        } else if (!strcmp(line, "card")) {
            copy_text(cur->card, sizeof cur->card, arg);
        } else if (!strcmp(line, "bus")) {
            copy_text(cur->bus, sizeof cur->bus, arg);
        } else if (!strcmp(line, "driver")) {
            copy_text(cur->driver, sizeof cur->driver, arg);
        } else if (!strcmp(line, "meta")) {
            cur->meta_minor = atoi(arg);
        } else if (!strcmp(line, "delay_ms")) {
            cur->delay_ms = atol(arg);
        } else if (!strcmp(line, "streamon_errno")) {
            cur->streamon_errno = atoi(arg);
        } else if (!strcmp(line, "size")) {
            parse_size(cur, arg);
        }
    }
    if (cur && !found && (cur->minor == minor || cur->meta_minor == minor))
        found = cur;
    else if (cur && cur != found)
        cam_free(cur);
    free(text);
    if (found && found->nfmts == 0 && found->minor == minor) {
        cam_free(found);
        return NULL;
    }
    return found;
}

/* The camera's plug generation now; -1 when unplugged. */
static long plug_gen(const char *id)
{
    const char *dir = ctl_dir();
    if (!dir)
        return -1;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/plug-%s", dir, id);
    int fd = sys_open(path, O_RDONLY, 0);
    if (fd < 0)
        return -1;
    char buf[32];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    sys_close(fd);
    if (n <= 0)
        return -1;
    buf[n] = 0;
    char *end;
    long g = strtol(buf, &end, 10);
    return end == buf ? -1 : g;
}

/* ------------------------------------------------------------------ */
/* Media files: frames split out of a file mapped read-only, cached per
 * process for its lifetime.                                           */

struct media {
    char *path;
    const unsigned char *data;
    size_t size;
    int n;
    size_t *off, *len;
    size_t max_len;
    struct media *next;
};

static pthread_mutex_t media_lock = PTHREAD_MUTEX_INITIALIZER;
static struct media *media_list;

static int add_frame(struct media *m, size_t off, size_t len, int *cap)
{
    if (m->n == *cap) {
        int c = *cap ? *cap * 2 : 64;
        size_t *o = realloc(m->off, sizeof *o * (size_t)c);
        if (!o)
            return -1;
        m->off = o;
        size_t *l = realloc(m->len, sizeof *l * (size_t)c);
        if (!l)
            return -1;
        m->len = l;
        *cap = c;
    }
    m->off[m->n] = off;
    m->len[m->n] = len;
    m->n++;
    if (len > m->max_len)
        m->max_len = len;
    return 0;
}

/* JPEGs one after another: each runs from SOI (FF D8) to the EOI (FF D9)
 * that is followed by the next SOI or the end of the file. */
static void split_mjpeg(struct media *m)
{
    const unsigned char *d = m->data;
    size_t n = m->size, i = 0;
    int cap = 0;
    while (i + 4 <= n) {
        if (d[i] != 0xFF || d[i + 1] != 0xD8) {
            i++;
            continue;
        }
        size_t start = i, j = i + 2, end = 0;
        for (; j + 1 < n; j++) {
            if (d[j] == 0xFF && d[j + 1] == 0xD9 &&
                (j + 2 == n || (j + 3 < n && d[j + 2] == 0xFF && d[j + 3] == 0xD8))) {
                end = j + 2;
                break;
            }
        }
        if (!end)
            break;
        if (add_frame(m, start, end - start, &cap) < 0)
            return;
        i = end;
    }
}

/* Annex B H.264: an access unit starts at each access unit delimiter (NAL
 * type 9). (uvcvideo flags no key frames, so neither does this.) */
static void split_h264(struct media *m)
{
    const unsigned char *d = m->data;
    size_t n = m->size;
    int cap = 0;
    size_t au_start = (size_t)-1;
    for (size_t i = 0; i + 3 < n; i++) {
        if (d[i] != 0 || d[i + 1] != 0 || d[i + 2] != 1)
            continue;
        size_t sc = (i > 0 && d[i - 1] == 0) ? i - 1 : i;
        if ((d[i + 3] & 0x1F) == 9) {
            if (au_start != (size_t)-1 && add_frame(m, au_start, sc - au_start, &cap) < 0)
                return;
            au_start = sc;
        }
        i += 3;
    }
    if (au_start != (size_t)-1 && au_start < n)
        add_frame(m, au_start, n - au_start, &cap);
}

static struct media *media_get(const char *path, uint32_t fourcc)
{
    pthread_mutex_lock(&media_lock);
    for (struct media *m = media_list; m; m = m->next) {
        if (!strcmp(m->path, path)) {
            pthread_mutex_unlock(&media_lock);
            return m;
        }
    }
    struct media *m = NULL;
    int fd = sys_open(path, O_RDONLY, 0);
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0 && st.st_size > 0) {
        void *p = real_mmap()(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p != MAP_FAILED) {
            m = calloc(1, sizeof *m);
            if (m) {
                m->path = strdup(path);
                m->data = p;
                m->size = (size_t)st.st_size;
                if (fourcc == V4L2_PIX_FMT_MJPEG)
                    split_mjpeg(m);
                else
                    split_h264(m);
                if (m->n == 0 || !m->path) {
                    munmap(p, m->size);
                    free(m->path);
                    free(m->off);
                    free(m->len);
                    free(m);
                    m = NULL;
                } else {
                    m->next = media_list;
                    media_list = m;
                }
            } else {
                munmap(p, (size_t)st.st_size);
            }
        }
    }
    if (fd >= 0)
        sys_close(fd);
    pthread_mutex_unlock(&media_lock);
    if (!m) {
        char msg[PATH_MAX + 64];
        int len = snprintf(msg, sizeof msg, "fakecam: no frames in media file %s\n", path);
        ssize_t r = write(2, msg, (size_t)len < sizeof msg ? (size_t)len : sizeof msg - 1);
        (void)r;
    }
    return m;
}

/* ------------------------------------------------------------------ */
/* Open descriptors.                                                   */

enum { BUF_USER, BUF_QUEUED };

struct buf {
    int memfd;
    unsigned char *map;
    size_t len;
    uint32_t offset;
    int state;
    int mapped;
    uint32_t bytesused;
    uint32_t flags;
    uint32_t sequence;
    struct timeval ts;
    int64_t queued_ns;     /* when it was queued */
};

struct handle {
    pthread_mutex_t m;
    int refs;
    dev_t dev, rdev;
    ino_t ino;
    struct cam *cam;
    int is_meta;
    long gen;
    int nonblock;
    int accmode;
    /* Current format. */
    int fi, si, ri;
    uint32_t sizeimage;
    /* Buffers and the queue of buffers waiting for a frame (FIFO). */
    int nbufs;
    struct buf bufs[MAX_BUFS];
    int queue[MAX_BUFS];
    int qhead, qlen;
    int streaming;
    int64_t first_ns;      /* when frame 0 is due */
    int64_t interval_ns;
    uint64_t next_frame;   /* the next frame's number */
    struct media *media;
    int lockfd;            /* the camera's lock file, flock()ed: we own it */
};

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static struct handle *table[FD_MAX];

static void at_prepare(void) { pthread_mutex_lock(&table_lock); }
static void at_parent(void) { pthread_mutex_unlock(&table_lock); }
static void at_child(void) { pthread_mutex_init(&table_lock, NULL); }

__attribute__((constructor)) static void fakecam_init(void)
{
    pthread_atfork(at_prepare, at_parent, at_child);
    (void)ctl_dir();
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void free_buffers(struct handle *h)
{
    for (int i = 0; i < h->nbufs; i++) {
        if (h->bufs[i].map)
            munmap(h->bufs[i].map, h->bufs[i].len);
        if (h->bufs[i].memfd >= 0)
            sys_close(h->bufs[i].memfd);
    }
    memset(h->bufs, 0, sizeof h->bufs);
    h->nbufs = 0;
    h->qhead = h->qlen = 0;
}

static void release_ownership(struct handle *h)
{
    if (h->lockfd >= 0) {
        sys_close(h->lockfd);
        h->lockfd = -1;
    }
}

static void handle_put(struct handle *h)
{
    pthread_mutex_lock(&table_lock);
    int last = --h->refs == 0;
    pthread_mutex_unlock(&table_lock);
    if (!last)
        return;
    free_buffers(h);
    release_ownership(h);
    cam_free(h->cam);
    pthread_mutex_destroy(&h->m);
    free(h);
}

/* The handle of `fd` with a reference taken, or NULL when `fd` is not a
 * camera descriptor. A stale entry (the descriptor was closed behind our
 * back and its number reused) is dropped. */
static struct handle *handle_get(int fd)
{
    if (fd < 0 || fd >= FD_MAX)
        return NULL;
    if (!__atomic_load_n(&table[fd], __ATOMIC_ACQUIRE))
        return NULL;
    pthread_mutex_lock(&table_lock);
    struct handle *h = table[fd];
    if (h)
        h->refs++;
    pthread_mutex_unlock(&table_lock);
    if (!h)
        return NULL;
    int saved = errno;
    struct stat st;
    int ok = fstat(fd, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == h->rdev &&
             st.st_ino == h->ino && st.st_dev == h->dev;
    errno = saved;
    if (ok)
        return h;
    pthread_mutex_lock(&table_lock);
    int dropped = 0;
    if (table[fd] == h) {
        table[fd] = NULL;
        dropped = 1;
    }
    pthread_mutex_unlock(&table_lock);
    if (dropped)
        handle_put(h);
    handle_put(h);
    return NULL;
}

/* Puts h (one reference, the caller's) into slot fd. */
static void table_set(int fd, struct handle *h)
{
    pthread_mutex_lock(&table_lock);
    struct handle *old = table[fd];
    __atomic_store_n(&table[fd], h, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&table_lock);
    if (old)
        handle_put(old);
}

static struct handle *table_take(int fd)
{
    if (fd < 0 || fd >= FD_MAX || !__atomic_load_n(&table[fd], __ATOMIC_ACQUIRE))
        return NULL;
    pthread_mutex_lock(&table_lock);
    struct handle *h = table[fd];
    table[fd] = NULL;
    pthread_mutex_unlock(&table_lock);
    return h;
}

static void table_share(int from, int to)
{
    if (to < 0 || to >= FD_MAX)
        return;
    struct handle *h = handle_get(from);
    if (h)
        table_set(to, h); /* the reference taken becomes the slot's */
    else if (__atomic_load_n(&table[to], __ATOMIC_ACQUIRE)) {
        struct handle *old = table_take(to);
        if (old)
            handle_put(old);
    }
}

/* ------------------------------------------------------------------ */
/* Format helpers.                                                     */

static struct format *cur_fmt(struct handle *h) { return &h->cam->fmts[h->fi]; }
static struct size *cur_size(struct handle *h) { return &cur_fmt(h)->sizes[h->si]; }

static int is_compressed(uint32_t fourcc)
{
    return fourcc == V4L2_PIX_FMT_MJPEG || fourcc == V4L2_PIX_FMT_H264;
}

static const char *fmt_description(uint32_t fourcc)
{
    switch (fourcc) {
    case V4L2_PIX_FMT_MJPEG: return "Motion-JPEG";
    case V4L2_PIX_FMT_YUYV: return "YUYV 4:2:2";
    case V4L2_PIX_FMT_H264: return "H.264";
    default: return "Unknown";
    }
}

/* The buffer size of a format and size: what uvcvideo reports, the camera's
 * dwMaxVideoFrameBufferSize, typically width * height * 2. */
static uint32_t size_image(struct format *f, struct size *s)
{
    uint32_t n = s->w * s->h * 2;
    if (is_compressed(f->fourcc) && s->media) {
        struct media *m = media_get(s->media, f->fourcc);
        if (m && m->max_len > n)
            n = (uint32_t)m->max_len;
    }
    return n;
}

static void fill_pix(struct format *f, struct size *s, struct v4l2_pix_format *pix)
{
    memset(pix, 0, sizeof *pix);
    pix->width = s->w;
    pix->height = s->h;
    pix->pixelformat = f->fourcc;
    pix->field = V4L2_FIELD_NONE;
    pix->bytesperline = f->fourcc == V4L2_PIX_FMT_YUYV ? s->w * 2 : 0;
    pix->sizeimage = size_image(f, s);
    pix->colorspace = V4L2_COLORSPACE_SRGB;
    pix->priv = V4L2_PIX_FMT_PRIV_MAGIC;
}

/* uvcvideo's choice of a size: the one whose non-overlapping area with the
 * requested size is smallest. */
static int nearest_size(struct format *f, uint32_t w, uint32_t h)
{
    int best = 0;
    uint64_t bestd = UINT64_MAX;
    for (int i = 0; i < f->nsizes; i++) {
        uint64_t fw = f->sizes[i].w, fh = f->sizes[i].h;
        uint64_t ow = fw < w ? fw : w, oh = fh < h ? fh : h;
        uint64_t d = fw * fh + (uint64_t)w * h - 2 * ow * oh;
        if (d < bestd) {
            bestd = d;
            best = i;
        }
    }
    return best;
}

static int find_fmt(struct cam *c, uint32_t fourcc)
{
    for (int i = 0; i < c->nfmts; i++)
        if (c->fmts[i].fourcc == fourcc)
            return i;
    return -1;
}

/* Takes the camera for this descriptor (uvcvideo's privileges): EBUSY when
 * another descriptor has it. */
static int acquire(struct handle *h)
{
    if (h->lockfd >= 0)
        return 0;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/lock-%s.%ld", ctl_dir(), h->cam->id, h->gen);
    int fd = sys_open(path, O_RDWR | O_CREAT, 0644);
    if (fd < 0)
        fd = sys_open(path, O_RDONLY, 0); /* made by the test, for every user */
    if (fd < 0)
        return -EIO;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        sys_close(fd);
        return -EBUSY;
    }
    h->lockfd = fd;
    return 0;
}

static int alive(struct handle *h)
{
    return plug_gen(h->cam->id) == h->gen;
}

/* ------------------------------------------------------------------ */
/* Frames.                                                             */

static void yuyv_frame(unsigned char *dst, uint32_t w, uint32_t h, uint64_t n)
{
    /* Eight vertical bars moving left, and a white square moving right. */
    static const unsigned char bars[8][3] = {
        {235, 128, 128}, {210, 16, 146}, {170, 166, 16}, {145, 54, 34},
        {106, 202, 222}, {81, 90, 240},  {41, 240, 110}, {16, 128, 128},
    };
    uint32_t barw = w / 8 ? w / 8 : 1;
    uint32_t shift = (uint32_t)((n * 4) % w);
    uint32_t box = h / 6 ? h / 6 : 1;
    uint32_t bx = (uint32_t)((n * 8) % (w > box ? w - box : 1)) & ~1u;
    uint32_t by = (uint32_t)((n * 3) % (h > box ? h - box : 1));
    unsigned char *row0 = dst;
    for (uint32_t x = 0; x < w; x += 2) {
        const unsigned char *c = bars[((x + shift) / barw) % 8];
        unsigned char *p = row0 + x * 2;
        p[0] = c[0];
        p[1] = c[1];
        p[2] = c[0];
        p[3] = c[2];
    }
    size_t stride = (size_t)w * 2;
    for (uint32_t y = 1; y < h; y++)
        memcpy(dst + y * stride, row0, stride);
    for (uint32_t y = by; y < by + box && y < h; y++) {
        unsigned char *p = dst + y * stride + (size_t)bx * 2;
        for (uint32_t x = 0; x < box && bx + x + 1 < w; x += 2, p += 4) {
            p[0] = 235;
            p[1] = 128;
            p[2] = 235;
            p[3] = 128;
        }
    }
}

/* Fills buffer b with frame number n. */
static void produce(struct handle *h, struct buf *b, uint64_t n)
{
    struct format *f = cur_fmt(h);
    struct size *s = cur_size(h);
    b->flags = 0;
    if (f->fourcc == V4L2_PIX_FMT_YUYV) {
        size_t need = (size_t)s->w * s->h * 2;
        if (need <= b->len) {
            yuyv_frame(b->map, s->w, s->h, n);
            b->bytesused = (uint32_t)need;
        } else {
            b->bytesused = 0;
            b->flags |= V4L2_BUF_FLAG_ERROR;
        }
        return;
    }
    struct media *m = h->media;
    if (!m) {
        b->bytesused = 0;
        b->flags |= V4L2_BUF_FLAG_ERROR;
        return;
    }
    size_t i = (size_t)(n % (uint64_t)m->n);
    size_t len = m->len[i] < b->len ? m->len[i] : b->len;
    memcpy(b->map, m->data + m->off[i], len);
    b->bytesused = (uint32_t)len;
}

static void fill_v4l2_buf(struct handle *h, int i, struct v4l2_buffer *vb)
{
    struct buf *b = &h->bufs[i];
    uint32_t type = vb->type;
    memset(vb, 0, sizeof *vb);
    vb->index = (uint32_t)i;
    vb->type = type;
    vb->memory = V4L2_MEMORY_MMAP;
    vb->m.offset = b->offset;
    vb->length = (uint32_t)b->len;
    vb->bytesused = b->bytesused;
    vb->field = V4L2_FIELD_NONE;
    vb->sequence = b->sequence;
    vb->timestamp = b->ts;
    vb->flags = b->flags | V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC | V4L2_BUF_FLAG_TSTAMP_SRC_SOE;
    if (b->state == BUF_QUEUED)
        vb->flags |= V4L2_BUF_FLAG_QUEUED;
    if (b->mapped)
        vb->flags |= V4L2_BUF_FLAG_MAPPED;
}

/* ------------------------------------------------------------------ */
/* The ioctls. Each returns 0 or -errno; h->m is held.                 */

static int do_querycap(struct handle *h, struct v4l2_capability *cap)
{
    memset(cap, 0, sizeof *cap);
    copy_text((char *)cap->driver, sizeof cap->driver, h->cam->driver);
    copy_text((char *)cap->card, sizeof cap->card, h->cam->card);
    copy_text((char *)cap->bus_info, sizeof cap->bus_info, h->cam->bus);
    cap->version = (6u << 16) | (1u << 8);
    uint32_t video = V4L2_CAP_VIDEO_CAPTURE | V4L2_CAP_STREAMING | V4L2_CAP_EXT_PIX_FORMAT;
    uint32_t meta = V4L2_CAP_META_CAPTURE | V4L2_CAP_STREAMING | V4L2_CAP_EXT_PIX_FORMAT;
    cap->device_caps = h->is_meta ? meta : video;
    cap->capabilities = video | (h->cam->meta_minor >= 0 ? meta : 0) | V4L2_CAP_DEVICE_CAPS;
    return 0;
}

static int do_enum_fmt(struct handle *h, struct v4l2_fmtdesc *d)
{
    uint32_t index = d->index, type = d->type;
    if (h->is_meta) {
        if (type != V4L2_BUF_TYPE_META_CAPTURE || index != 0)
            return -EINVAL;
        memset(d, 0, sizeof *d);
        d->type = type;
        d->pixelformat = V4L2_META_FMT_UVC;
        copy_text((char *)d->description, sizeof d->description, "UVC Payload Header Metadata");
        return 0;
    }
    if (type != V4L2_BUF_TYPE_VIDEO_CAPTURE || index >= (uint32_t)h->cam->nfmts)
        return -EINVAL;
    uint32_t fcc = h->cam->fmts[index].fourcc;
    memset(d, 0, sizeof *d);
    d->index = index;
    d->type = type;
    d->pixelformat = fcc;
    d->flags = is_compressed(fcc) ? V4L2_FMT_FLAG_COMPRESSED : 0;
    copy_text((char *)d->description, sizeof d->description, fmt_description(fcc));
    return 0;
}

static int do_enum_framesizes(struct handle *h, struct v4l2_frmsizeenum *e)
{
    if (h->is_meta)
        return -ENOTTY;
    int f = find_fmt(h->cam, e->pixel_format);
    if (f < 0 || e->index >= (uint32_t)h->cam->fmts[f].nsizes)
        return -EINVAL;
    struct size *s = &h->cam->fmts[f].sizes[e->index];
    uint32_t index = e->index, fcc = e->pixel_format;
    memset(e, 0, sizeof *e);
    e->index = index;
    e->pixel_format = fcc;
    e->type = V4L2_FRMSIZE_TYPE_DISCRETE;
    e->discrete.width = s->w;
    e->discrete.height = s->h;
    return 0;
}

static int do_enum_frameintervals(struct handle *h, struct v4l2_frmivalenum *e)
{
    if (h->is_meta)
        return -ENOTTY;
    int f = find_fmt(h->cam, e->pixel_format);
    if (f < 0)
        return -EINVAL;
    struct format *fm = &h->cam->fmts[f];
    for (int i = 0; i < fm->nsizes; i++) {
        struct size *s = &fm->sizes[i];
        if (s->w != e->width || s->h != e->height)
            continue;
        if (e->index >= (uint32_t)s->nrates)
            return -EINVAL;
        uint32_t index = e->index, fcc = e->pixel_format, w = e->width, hh = e->height;
        memset(e, 0, sizeof *e);
        e->index = index;
        e->pixel_format = fcc;
        e->width = w;
        e->height = hh;
        e->type = V4L2_FRMIVAL_TYPE_DISCRETE;
        e->discrete.numerator = 1;
        e->discrete.denominator = s->fps[index];
        return 0;
    }
    return -EINVAL;
}

static int do_meta_fmt(struct v4l2_format *f)
{
    if (f->type != V4L2_BUF_TYPE_META_CAPTURE)
        return -EINVAL;
    memset(&f->fmt, 0, sizeof f->fmt);
    f->fmt.meta.dataformat = V4L2_META_FMT_UVC;
    f->fmt.meta.buffersize = 10240;
    return 0;
}

static int do_fmt(struct handle *h, unsigned long req, struct v4l2_format *f)
{
    if (h->is_meta)
        return do_meta_fmt(f);
    if (f->type != V4L2_BUF_TYPE_VIDEO_CAPTURE)
        return -EINVAL;
    if (req == VIDIOC_G_FMT) {
        fill_pix(cur_fmt(h), cur_size(h), &f->fmt.pix);
        return 0;
    }
    int fi = find_fmt(h->cam, f->fmt.pix.pixelformat);
    if (fi < 0)
        fi = 0; /* uvcvideo falls back to the default format */
    struct format *fm = &h->cam->fmts[fi];
    int si = nearest_size(fm, f->fmt.pix.width, f->fmt.pix.height);
    if (req == VIDIOC_S_FMT) {
        int r = acquire(h);
        if (r < 0)
            return r;
        if (h->nbufs > 0)
            return -EBUSY;
        h->fi = fi;
        h->si = si;
        h->ri = 0; /* the size's default frame interval */
    }
    fill_pix(fm, &fm->sizes[si], &f->fmt.pix);
    return 0;
}

static int do_parm(struct handle *h, unsigned long req, struct v4l2_streamparm *p)
{
    if (h->is_meta || p->type != V4L2_BUF_TYPE_VIDEO_CAPTURE)
        return -EINVAL;
    struct size *s = cur_size(h);
    if (req == VIDIOC_S_PARM) {
        int r = acquire(h);
        if (r < 0)
            return r;
        if (h->streaming)
            return -EBUSY;
        struct v4l2_fract t = p->parm.capture.timeperframe;
        if (t.numerator && t.denominator) {
            double want = (double)t.denominator / t.numerator;
            int best = 0;
            double bestd = 1e18;
            for (int i = 0; i < s->nrates; i++) {
                double d = want - s->fps[i];
                if (d < 0)
                    d = -d;
                if (d < bestd) {
                    bestd = d;
                    best = i;
                }
            }
            h->ri = best;
        }
    }
    uint32_t type = p->type;
    memset(p, 0, sizeof *p);
    p->type = type;
    p->parm.capture.capability = V4L2_CAP_TIMEPERFRAME;
    p->parm.capture.timeperframe.numerator = 1;
    p->parm.capture.timeperframe.denominator = s->fps[h->ri];
    return 0;
}

static int do_enuminput(struct handle *h, struct v4l2_input *in)
{
    if (h->is_meta)
        return -ENOTTY;
    if (in->index != 0)
        return -EINVAL;
    memset(in, 0, sizeof *in);
    copy_text((char *)in->name, sizeof in->name, "Camera 1");
    in->type = V4L2_INPUT_TYPE_CAMERA;
    return 0;
}

static int do_reqbufs(struct handle *h, struct v4l2_requestbuffers *rb)
{
    if (h->is_meta || rb->type != V4L2_BUF_TYPE_VIDEO_CAPTURE)
        return -EINVAL;
    if (rb->memory != V4L2_MEMORY_MMAP)
        return -EINVAL;
    int r = acquire(h);
    if (r < 0)
        return r;
    if (h->streaming)
        return -EBUSY;
    /* (A driver refuses to free buffers still mapped; munmap is not
     * followed here, so they are freed: the caller's mappings stay valid.) */
    free_buffers(h);
    rb->capabilities = V4L2_BUF_CAP_SUPPORTS_MMAP;
    rb->flags = 0;
    if (rb->count == 0) {
        h->media = NULL;
        release_ownership(h);
        return 0;
    }
    struct format *f = cur_fmt(h);
    struct size *s = cur_size(h);
    if (is_compressed(f->fourcc)) {
        h->media = s->media ? media_get(s->media, f->fourcc) : NULL;
        if (!h->media)
            return -EIO;
    }
    uint32_t count = rb->count > MAX_BUFS ? MAX_BUFS : rb->count;
    if (count < 2)
        count = 2;
    h->sizeimage = size_image(f, s);
    long page = sysconf(_SC_PAGESIZE);
    size_t len = ((size_t)h->sizeimage + (size_t)page - 1) & ~((size_t)page - 1);
    for (uint32_t i = 0; i < count; i++) {
        struct buf *b = &h->bufs[i];
        b->memfd = memfd_create("fakecam-buffer", MFD_CLOEXEC);
        if (b->memfd < 0 || ftruncate(b->memfd, (off_t)len) != 0) {
            h->nbufs = (int)i + 1;
            free_buffers(h);
            return -ENOMEM;
        }
        b->map = real_mmap()(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, b->memfd, 0);
        if (b->map == MAP_FAILED) {
            b->map = NULL;
            h->nbufs = (int)i + 1;
            free_buffers(h);
            return -ENOMEM;
        }
        b->len = len;
        b->offset = (uint32_t)(i * len);
        b->state = BUF_USER;
    }
    h->nbufs = (int)count;
    rb->count = count;
    return 0;
}

static int do_querybuf(struct handle *h, struct v4l2_buffer *vb)
{
    if (h->is_meta || vb->type != V4L2_BUF_TYPE_VIDEO_CAPTURE)
        return -EINVAL;
    if (vb->index >= (uint32_t)h->nbufs)
        return -EINVAL;
    fill_v4l2_buf(h, (int)vb->index, vb);
    return 0;
}

static int do_qbuf(struct handle *h, struct v4l2_buffer *vb)
{
    if (h->is_meta || vb->type != V4L2_BUF_TYPE_VIDEO_CAPTURE || vb->memory != V4L2_MEMORY_MMAP)
        return -EINVAL;
    if (vb->index >= (uint32_t)h->nbufs)
        return -EINVAL;
    if (h->lockfd < 0)
        return -EBUSY;
    struct buf *b = &h->bufs[vb->index];
    if (b->state == BUF_QUEUED)
        return -EINVAL;
    b->state = BUF_QUEUED;
    b->queued_ns = now_ns();
    h->queue[(h->qhead + h->qlen) % MAX_BUFS] = (int)vb->index;
    h->qlen++;
    fill_v4l2_buf(h, (int)vb->index, vb);
    return 0;
}

static int do_streamon(struct handle *h, const int *type)
{
    if (h->is_meta || *type != V4L2_BUF_TYPE_VIDEO_CAPTURE)
        return -EINVAL;
    if (h->nbufs == 0)
        return -EINVAL;
    int r = acquire(h);
    if (r < 0)
        return r;
    if (h->streaming)
        return 0;
    if (h->cam->streamon_errno > 0)
        return -h->cam->streamon_errno;
    h->streaming = 1;
    h->interval_ns = 1000000000LL / cur_size(h)->fps[h->ri];
    h->first_ns = now_ns() + h->cam->delay_ms * 1000000LL;
    h->next_frame = 0;
    return 0;
}

static int do_streamoff(struct handle *h, const int *type)
{
    if (h->is_meta || *type != V4L2_BUF_TYPE_VIDEO_CAPTURE)
        return -EINVAL;
    if (h->lockfd < 0 && h->nbufs > 0)
        return -EBUSY;
    h->streaming = 0;
    for (int i = 0; i < h->nbufs; i++)
        h->bufs[i].state = BUF_USER;
    h->qhead = h->qlen = 0;
    return 0;
}

/* How long until the next frame is due (ns, 0: now); -1 when none will
 * come (not streaming, no buffer queued). h->m is held. */
static int64_t frame_wait(struct handle *h)
{
    if (!h->streaming || h->qlen == 0)
        return -1;
    /* Frames that came while no buffer was queued were dropped, as a driver
     * drops them: the next frame is the first one due once the oldest
     * queued buffer was there. */
    int64_t queued = h->bufs[h->queue[h->qhead]].queued_ns;
    if (queued > h->first_ns) {
        uint64_t k = (uint64_t)((queued - h->first_ns + h->interval_ns - 1) / h->interval_ns);
        if (k > h->next_frame)
            h->next_frame = k;
    }
    int64_t due = h->first_ns + (int64_t)h->next_frame * h->interval_ns;
    int64_t now = now_ns();
    return due > now ? due - now : 0;
}

/* DQBUF; may sleep (blocking descriptor), dropping h->m meanwhile. */
static int do_dqbuf(struct handle *h, struct v4l2_buffer *vb)
{
    if (h->is_meta || vb->type != V4L2_BUF_TYPE_VIDEO_CAPTURE || vb->memory != V4L2_MEMORY_MMAP)
        return -EINVAL;
    for (;;) {
        if (!alive(h))
            return -ENODEV;
        if (!h->streaming)
            return -EINVAL;
        int64_t wait = frame_wait(h);
        if (wait == 0)
            break;
        if (h->nonblock)
            return -EAGAIN;
        /* Sleep in short steps, so an unplug is noticed in time. */
        int64_t step = wait < 0 || wait > 20000000 ? 20000000 : wait;
        struct timespec ts = {0, (long)step};
        pthread_mutex_unlock(&h->m);
        nanosleep(&ts, NULL);
        pthread_mutex_lock(&h->m);
    }
    /* A late reader gets the frames that filled its queued buffers, with
     * the times they were captured at. */
    uint64_t n = h->next_frame;
    int i = h->queue[h->qhead];
    h->qhead = (h->qhead + 1) % MAX_BUFS;
    h->qlen--;
    struct buf *b = &h->bufs[i];
    b->state = BUF_USER;
    produce(h, b, n);
    int64_t t = h->first_ns + (int64_t)n * h->interval_ns;
    b->ts.tv_sec = (time_t)(t / 1000000000);
    b->ts.tv_usec = (suseconds_t)((t % 1000000000) / 1000);
    b->sequence = (uint32_t)n;
    h->next_frame = n + 1;
    fill_v4l2_buf(h, i, vb);
    return 0;
}

static int dispatch(struct handle *h, unsigned long request, void *arg)
{
    /* The kernel reads the request as 32 bits: a caller passing an int
     * sign-extends it. */
    unsigned int req = (unsigned int)request;
    /* After an unplug the device is gone for every open descriptor. */
    if (!alive(h))
        return -ENODEV;
    if (!arg && _IOC_SIZE(req) > 0)
        return -EFAULT;
    switch (req) {
    case VIDIOC_QUERYCAP: return do_querycap(h, arg);
    case VIDIOC_ENUM_FMT: return do_enum_fmt(h, arg);
    case VIDIOC_ENUM_FRAMESIZES: return do_enum_framesizes(h, arg);
    case VIDIOC_ENUM_FRAMEINTERVALS: return do_enum_frameintervals(h, arg);
    case VIDIOC_G_FMT:
    case VIDIOC_S_FMT:
    case VIDIOC_TRY_FMT: return do_fmt(h, req, arg);
    case VIDIOC_G_PARM:
    case VIDIOC_S_PARM: return do_parm(h, req, arg);
    case VIDIOC_ENUMINPUT: return do_enuminput(h, arg);
    case VIDIOC_G_INPUT:
        if (h->is_meta)
            return -ENOTTY;
        *(int *)arg = 0;
        return 0;
    case VIDIOC_S_INPUT:
        if (h->is_meta)
            return -ENOTTY;
        return *(int *)arg == 0 ? 0 : -EINVAL;
    case VIDIOC_REQBUFS: return do_reqbufs(h, arg);
    case VIDIOC_QUERYBUF: return do_querybuf(h, arg);
    case VIDIOC_QBUF: return do_qbuf(h, arg);
    case VIDIOC_DQBUF: return do_dqbuf(h, arg);
    case VIDIOC_STREAMON: return do_streamon(h, arg);
    case VIDIOC_STREAMOFF: return do_streamoff(h, arg);
    case VIDIOC_G_PRIORITY:
        *(uint32_t *)arg = V4L2_PRIORITY_DEFAULT;
        return 0;
    case VIDIOC_S_PRIORITY: return 0;
    case FIONBIO:
        h->nonblock = *(int *)arg != 0;
        return 0;
    /* A camera without controls (uvcvideo answers EINVAL for an unknown one). */
    case VIDIOC_QUERYCTRL:
    case VIDIOC_QUERY_EXT_CTRL:
    case VIDIOC_QUERYMENU:
    case VIDIOC_G_CTRL:
    case VIDIOC_S_CTRL:
    case VIDIOC_G_EXT_CTRLS:
    case VIDIOC_S_EXT_CTRLS:
    case VIDIOC_TRY_EXT_CTRLS: return -EINVAL;
    default: return -ENOTTY; /* G_STD, ENUMSTD, QUERYSTD, S_STD, CROPCAP... */
    }
}

static int camera_ioctl(struct handle *h, unsigned long req, void *arg)
{
    pthread_mutex_lock(&h->m);
    int r = dispatch(h, req, arg);
    pthread_mutex_unlock(&h->m);
    handle_put(h);
    if (r < 0) {
        errno = -r;
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* open                                                                */

/* When (dirfd, path) is a configured camera node: the emulated open's
 * result (>= 0 or -1 with errno). Otherwise -2: open it for real. */
static int camera_open(int dirfd, const char *path, int flags)
{
    if (!ctl_dir() || !path || (flags & (O_PATH | O_DIRECTORY)))
        return -2;
    int saved = errno;
    struct stat st;
    if (fstatat(dirfd, path, &st, 0) != 0 || !S_ISCHR(st.st_mode) ||
        major(st.st_rdev) != V4L2_MAJOR) {
        errno = saved;
        return -2;
    }
    int minor = (int)minor(st.st_rdev);
    struct cam *cam = load_cam(minor);
    if (!cam) {
        errno = saved;
        return -2;
    }
    int acc = flags & O_ACCMODE;
    int want = acc == O_RDONLY ? R_OK : acc == O_WRONLY ? W_OK : R_OK | W_OK;
    if (faccessat(dirfd, path, want, AT_EACCESS) != 0) {
        int e = errno;
        cam_free(cam);
        errno = e;
        return -1;
    }
    long gen = plug_gen(cam->id);
    if (gen < 0) {
        cam_free(cam);
        errno = ENODEV;
        return -1;
    }
    int fd = (int)real_syscall()(SYS_openat, dirfd, path, O_PATH | (flags & O_CLOEXEC), 0);
    if (fd < 0) {
        int e = errno;
        cam_free(cam);
        errno = e;
        return -1;
    }
    struct stat fst;
    if (fd >= FD_MAX || fstat(fd, &fst) != 0) {
        sys_close(fd);
        cam_free(cam);
        errno = EMFILE;
        return -1;
    }
    struct handle *h = calloc(1, sizeof *h);
    if (!h) {
        sys_close(fd);
        cam_free(cam);
        errno = ENOMEM;
        return -1;
    }
    pthread_mutex_init(&h->m, NULL);
    h->refs = 1;
    h->dev = fst.st_dev;
    h->ino = fst.st_ino;
    h->rdev = fst.st_rdev;
    h->cam = cam;
    h->is_meta = cam->minor != minor;
    h->gen = gen;
    h->nonblock = (flags & O_NONBLOCK) != 0;
    h->accmode = acc;
    h->lockfd = -1;
    for (int i = 0; i < MAX_BUFS; i++)
        h->bufs[i].memfd = -1;
    table_set(fd, h);
    errno = saved;
    return fd;
}

static mode_t mode_arg(int flags, va_list ap)
{
    return (flags & (O_CREAT | __O_TMPFILE)) ? (mode_t)va_arg(ap, int) : 0;
}

int open(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    int r = camera_open(AT_FDCWD, path, flags);
    return r != -2 ? r : real_open()(path, flags, mode);
}

int open64(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    int r = camera_open(AT_FDCWD, path, flags);
    return r != -2 ? r : real_open64()(path, flags, mode);
}

int openat(int dirfd, const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    int r = camera_open(dirfd, path, flags);
    return r != -2 ? r : real_openat()(dirfd, path, flags, mode);
}

int openat64(int dirfd, const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    int r = camera_open(dirfd, path, flags);
    return r != -2 ? r : real_openat64()(dirfd, path, flags, mode);
}

/* The _FORTIFY_SOURCE entry points. */
int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags);
int __openat64_2(int dirfd, const char *path, int flags);
int __open_2(const char *path, int flags) { return open(path, flags); }
int __open64_2(const char *path, int flags) { return open64(path, flags); }
int __openat_2(int dirfd, const char *path, int flags) { return openat(dirfd, path, flags); }
int __openat64_2(int dirfd, const char *path, int flags) { return openat64(dirfd, path, flags); }

/* ------------------------------------------------------------------ */
/* close, dup, fcntl                                                   */

int close(int fd)
{
    struct handle *h = table_take(fd);
    if (h)
        handle_put(h);
    return real_close()(fd);
}

int dup(int fd)
{
    int r = real_dup()(fd);
    if (r >= 0)
        table_share(fd, r);
    return r;
}

int dup2(int fd, int to)
{
    int r = real_dup2()(fd, to);
    if (r >= 0 && fd != to)
        table_share(fd, r);
    return r;
}

int dup3(int fd, int to, int flags)
{
    int r = real_dup3()(fd, to, flags);
    if (r >= 0)
        table_share(fd, r);
    return r;
}

static int camera_fcntl(fcntl_fn fn, int fd, int cmd, void *arg)
{
    if (cmd == F_GETFL || cmd == F_SETFL) {
        struct handle *h = handle_get(fd);
        if (h) {
            int r = 0;
            pthread_mutex_lock(&h->m);
            if (cmd == F_GETFL)
                r = h->accmode | (h->nonblock ? O_NONBLOCK : 0) | O_LARGEFILE;
            else
                h->nonblock = ((int)(intptr_t)arg & O_NONBLOCK) != 0;
            pthread_mutex_unlock(&h->m);
            handle_put(h);
            return r;
        }
    }
    int r = fn(fd, cmd, arg);
    if (r >= 0 && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC))
        table_share(fd, r);
    return r;
}

int fcntl(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    return camera_fcntl(real_fcntl(), fd, cmd, arg);
}

int fcntl64(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    return camera_fcntl(real_fcntl64(), fd, cmd, arg);
}

/* ------------------------------------------------------------------ */
/* ioctl, syscall                                                      */

int ioctl(int fd, unsigned long req, ...)
{
    va_list ap;
    va_start(ap, req);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    struct handle *h = handle_get(fd);
    if (h)
        return camera_ioctl(h, req, arg);
    return real_ioctl()(fd, req, arg);
}

long syscall(long number, ...)
{
    va_list ap;
    va_start(ap, number);
    long a[6];
    for (int i = 0; i < 6; i++)
        a[i] = va_arg(ap, long);
    va_end(ap);
    if (number == SYS_ioctl) {
        struct handle *h = handle_get((int)a[0]);
        if (h)
            return camera_ioctl(h, (unsigned long)a[1], (void *)a[2]);
    } else if (number == SYS_close) {
        struct handle *h = table_take((int)a[0]);
        if (h)
            handle_put(h);
    } else if (number == SYS_openat) {
        int r = camera_open((int)a[0], (const char *)a[1], (int)a[2]);
        if (r != -2)
            return r;
    } else if (number == SYS_open) {
        int r = camera_open(AT_FDCWD, (const char *)a[0], (int)a[1]);
        if (r != -2)
            return r;
    } else if (number == SYS_dup) {
        long r = real_syscall()(number, a[0]);
        if (r >= 0)
            table_share((int)a[0], (int)r);
        return r;
    }
    return real_syscall()(number, a[0], a[1], a[2], a[3], a[4], a[5]);
}

/* ------------------------------------------------------------------ */
/* mmap                                                                */

static void *camera_mmap(mmap_fn fn, void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    struct handle *h = handle_get(fd);
    if (!h)
        return fn(addr, len, prot, flags, fd, off);
    void *r = MAP_FAILED;
    int err = EINVAL;
    pthread_mutex_lock(&h->m);
    if (!alive(h)) {
        err = ENODEV;
    } else if (flags & MAP_SHARED) {
        for (int i = 0; i < h->nbufs; i++) {
            struct buf *b = &h->bufs[i];
            if ((off_t)b->offset == off && len <= b->len) {
                r = fn(addr, len, prot, flags, b->memfd, 0);
                if (r == MAP_FAILED)
                    err = errno;
                else
                    b->mapped++;
                break;
            }
        }
    }
    pthread_mutex_unlock(&h->m);
    handle_put(h);
    if (r == MAP_FAILED)
        errno = err;
    return r;
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    if (fd < 0)
        return real_mmap()(addr, len, prot, flags, fd, off);
    return camera_mmap(real_mmap(), addr, len, prot, flags, fd, off);
}

void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    if (fd < 0)
        return real_mmap64()(addr, len, prot, flags, fd, off);
    return camera_mmap(real_mmap64(), addr, len, prot, flags, fd, off);
}

/* ------------------------------------------------------------------ */
/* poll: a streaming camera is readable when a frame is due.           */

static int camera_poll(struct pollfd *fds, nfds_t n, int64_t timeout_ns, int use_ppoll,
                       const sigset_t *mask)
{
    int ours = 0;
    for (nfds_t i = 0; i < n; i++)
        if (fds[i].fd >= 0 && fds[i].fd < FD_MAX && __atomic_load_n(&table[fds[i].fd], __ATOMIC_ACQUIRE))
            ours = 1;
    if (!ours)
        return -2;
    int64_t end = timeout_ns < 0 ? -1 : now_ns() + timeout_ns;
    struct pollfd *other = calloc(n ? n : 1, sizeof *other);
    if (!other) {
        errno = ENOMEM;
        return -1;
    }
    for (;;) {
        int ready = 0;
        int64_t soonest = -1;
        for (nfds_t i = 0; i < n; i++) {
            other[i] = fds[i];
            other[i].revents = 0;
            fds[i].revents = 0;
            struct handle *h = handle_get(fds[i].fd);
            if (!h)
                continue;
            other[i].fd = -1; /* the real poll skips it */
            pthread_mutex_lock(&h->m);
            if (!alive(h)) {
                fds[i].revents = POLLERR | POLLHUP;
            } else {
                int64_t w = frame_wait(h);
                if (w == 0)
                    fds[i].revents = fds[i].events & (POLLIN | POLLRDNORM);
                else if (w > 0 && (soonest < 0 || w < soonest))
                    soonest = w;
                if (!h->streaming)
                    fds[i].revents |= POLLERR;
            }
            pthread_mutex_unlock(&h->m);
            handle_put(h);
            if (fds[i].revents)
                ready = 1;
        }
        int64_t now = now_ns();
        int64_t step = 20000000; /* look at the plug state at least this often */
        if (soonest >= 0 && soonest < step)
            step = soonest;
        if (ready)
            step = 0;
        if (end >= 0 && end - now < step)
            step = end > now ? end - now : 0;
        struct timespec ts = {(time_t)(step / 1000000000), (long)(step % 1000000000)};
        int r = use_ppoll ? real_ppoll()(other, n, &ts, mask) : real_poll()(other, n, (int)(step / 1000000));
        if (r < 0 && errno != EINTR) {
            free(other);
            return -1;
        }
        int count = 0;
        for (nfds_t i = 0; i < n; i++) {
            if (other[i].fd >= 0)
                fds[i].revents = other[i].revents;
            if (fds[i].revents)
                count++;
        }
        if (count || r < 0 || (end >= 0 && now_ns() >= end)) {
            free(other);
            if (r < 0 && !count)
                return -1;
            return count;
        }
    }
}

int poll(struct pollfd *fds, nfds_t n, int timeout)
{
    int r = camera_poll(fds, n, timeout < 0 ? -1 : (int64_t)timeout * 1000000, 0, NULL);
    return r != -2 ? r : real_poll()(fds, n, timeout);
}

int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *t, const sigset_t *mask)
{
    int64_t ns = t ? (int64_t)t->tv_sec * 1000000000 + t->tv_nsec : -1;
    int r = camera_poll(fds, n, ns, 1, mask);
    return r != -2 ? r : real_ppoll()(fds, n, t, mask);
}
