#ifndef CSERIALSHIM_H
#define CSERIALSHIM_H

/*
 * Small C helpers for SerialTransport and VirtualDevices.
 *
 * They exist because Swift's Glibc module hides grantpt/unlockpt/ptsname_r, exposes the
 * termios flags with mixed integer types and c_cc as a tuple, and cannot call the major()
 * macro. Every function returns 0 on success or an errno value on failure; none of them
 * touches errno-dependent global state after returning.
 */

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Parity as SerialTransport encodes it. */
#define CSERIAL_PARITY_NONE 0
#define CSERIAL_PARITY_ODD 1
#define CSERIAL_PARITY_EVEN 2

/* Flow control as SerialTransport encodes it. */
#define CSERIAL_FLOW_NONE 0
#define CSERIAL_FLOW_RTSCTS 1
#define CSERIAL_FLOW_XONXOFF 2

/* Which call failed inside cserial_configure_line. */
typedef enum {
    CSERIAL_STEP_NONE = 0,
    CSERIAL_STEP_TCGETATTR = 1,
    CSERIAL_STEP_BAUD = 2,
    CSERIAL_STEP_CFSETISPEED = 3,
    CSERIAL_STEP_CFSETOSPEED = 4,
    CSERIAL_STEP_FRAMING = 5,
    CSERIAL_STEP_TCSETATTR = 6,
    CSERIAL_STEP_READBACK = 7
} cserial_step;

/* Line settings requested by the caller. */
typedef struct {
    int baud;       /* e.g. 9600; must be one of the rates termios knows */
    int data_bits;  /* 5...8 */
    int parity;     /* CSERIAL_PARITY_* */
    int stop_bits;  /* 1 or 2 */
    int flow;       /* CSERIAL_FLOW_* */
} cserial_line_settings;

/* Line settings the kernel reports after tcsetattr (read back with tcgetattr). */
typedef struct {
    int baud;       /* 0 when the speed code has no known integer rate */
    int data_bits;
    int parity;
    int stop_bits;
    int flow;
} cserial_line_readback;

/*
 * Creates a pseudo-terminal pair: posix_openpt(O_RDWR|O_NOCTTY|O_CLOEXEC), grantpt,
 * unlockpt, ptsname_r. On success *master_fd holds the master and slave_path the
 * NUL-terminated slave path (e.g. "/dev/pts/3"). On failure nothing stays open.
 */
int cserial_open_pty(int *master_fd, char *slave_path, size_t slave_path_capacity);

/* tcgetattr + cfmakeraw + tcsetattr(TCSANOW): no echo, no line buffering, no CR/LF mapping. */
int cserial_make_raw(int fd);

/*
 * Puts the terminal into raw mode with the given line settings: cfmakeraw, speed, data bits,
 * parity, stop bits, flow control, CLOCAL|CREAD, VMIN=1/VTIME=0, tcsetattr(TCSANOW), then
 * reads the settings back into *readback (pseudo-terminals force 8 data bits and no parity;
 * the caller decides whether a difference matters). *failed_step names the failing call.
 */
int cserial_configure_line(int fd, const cserial_line_settings *settings,
                           cserial_line_readback *readback, cserial_step *failed_step);

/* Returns 1 when the integer baud rate has a termios speed code on this system, else 0. */
int cserial_is_supported_baud(int baud);

/* ioctl(TIOCMGET): modem-control bits. Pseudo-terminals answer ENOTTY. */
int cserial_modem_bits(int fd, int *bits);

/* Major number of a device number (the major() macro, which Swift cannot call). */
unsigned int cserial_device_major(unsigned long long device);

/* Minor number of a device number. */
unsigned int cserial_device_minor(unsigned long long device);

/* 1 when a character device with this major number is a Unix98 pseudo-terminal slave. */
int cserial_is_pty_slave_major(unsigned int major);

/*
 * Thread-safe strerror: copies the text for errnum into buffer (always NUL-terminated).
 * Returns 0, or EINVAL when the buffer is unusable.
 */
int cserial_error_text(int errnum, char *buffer, size_t capacity);

/*
 * Reads the kernel's clock discipline state with adjtimex(2) in read-only mode (modes = 0,
 * allowed for any user). On success stores the timex status bits in *status and adjtimex's
 * return value (TIME_OK, ..., TIME_ERROR) in *state, and returns 0; else returns errno.
 * STA_UNSYNC in status (or state == TIME_ERROR) means the clock is not synchronised.
 */
int cserial_clock_state(int *status, int *state);

/// Sets another process's largest file size (RLIMIT_FSIZE soft limit, with prlimit(2)):
/// `bytes`, or no limit when `unlimited` is non-zero. For `station-sim chaos`, which makes the
/// agent's disk "full" this way (a write past the limit fails with EFBIG). Returns 0 or errno.
int cserial_limit_file_size(int pid, unsigned long long bytes, int unlimited);

/* The STA_UNSYNC bit and the TIME_ERROR state, for Swift. */
int cserial_sta_unsync(void);
int cserial_time_error(void);

#ifdef __cplusplus
}
#endif

#endif /* CSERIALSHIM_H */
