#define _GNU_SOURCE

#include "CSerialShim.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/types.h>
#include <termios.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/sysmacros.h>
#endif

/* MARK: - Pseudo-terminals */

int cserial_open_pty(int *master_fd, char *slave_path, size_t slave_path_capacity) {
    if (master_fd == NULL || slave_path == NULL || slave_path_capacity == 0) {
        return EINVAL;
    }
    *master_fd = -1;
    slave_path[0] = '\0';

    int fd = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        return errno;
    }
    if (grantpt(fd) != 0) {
        int saved = errno;
        (void)close(fd);
        return saved;
    }
    if (unlockpt(fd) != 0) {
        int saved = errno;
        (void)close(fd);
        return saved;
    }
    int rc = ptsname_r(fd, slave_path, slave_path_capacity);
    if (rc != 0) {
        /* glibc returns the error number; other libcs return -1 and set errno. */
        int saved = rc > 0 ? rc : errno;
        (void)close(fd);
        slave_path[0] = '\0';
        return saved != 0 ? saved : EINVAL;
    }
    *master_fd = fd;
    return 0;
}

int cserial_make_raw(int fd) {
    struct termios tio;
    if (tcgetattr(fd, &tio) != 0) {
        return errno;
    }
    cfmakeraw(&tio);
    tio.c_cc[VMIN] = 1;
    tio.c_cc[VTIME] = 0;
    if (tcsetattr(fd, TCSANOW, &tio) != 0) {
        return errno;
    }
    return 0;
}

/* MARK: - Baud rates */

struct baud_entry {
    int rate;
    speed_t code;
};

static const struct baud_entry baud_table[] = {
    {50, B50},       {75, B75},       {110, B110},       {134, B134},       {150, B150},
    {200, B200},     {300, B300},     {600, B600},       {1200, B1200},     {1800, B1800},
    {2400, B2400},   {4800, B4800},   {9600, B9600},     {19200, B19200},   {38400, B38400},
#ifdef B57600
    {57600, B57600},
#endif
#ifdef B115200
    {115200, B115200},
#endif
#ifdef B230400
    {230400, B230400},
#endif
#ifdef B460800
    {460800, B460800},
#endif
#ifdef B500000
    {500000, B500000},
#endif
#ifdef B576000
    {576000, B576000},
#endif
#ifdef B921600
    {921600, B921600},
#endif
#ifdef B1000000
    {1000000, B1000000},
#endif
#ifdef B1152000
    {1152000, B1152000},
#endif
#ifdef B1500000
    {1500000, B1500000},
#endif
#ifdef B2000000
    {2000000, B2000000},
#endif
#ifdef B2500000
    {2500000, B2500000},
#endif
#ifdef B3000000
    {3000000, B3000000},
#endif
#ifdef B3500000
    {3500000, B3500000},
#endif
#ifdef B4000000
    {4000000, B4000000},
#endif
};

static int speed_code_for_rate(int rate, speed_t *code) {
    for (size_t i = 0; i < sizeof(baud_table) / sizeof(baud_table[0]); i++) {
        if (baud_table[i].rate == rate) {
            *code = baud_table[i].code;
            return 1;
        }
    }
    return 0;
}

static int rate_for_speed_code(speed_t code) {
    for (size_t i = 0; i < sizeof(baud_table) / sizeof(baud_table[0]); i++) {
        if (baud_table[i].code == code) {
            return baud_table[i].rate;
        }
    }
    return 0;
}

int cserial_is_supported_baud(int baud) {
    speed_t code;
    return speed_code_for_rate(baud, &code);
}

/* MARK: - Line configuration */

static void set_step(cserial_step *failed_step, cserial_step step) {
    if (failed_step != NULL) {
        *failed_step = step;
    }
}

int cserial_configure_line(int fd, const cserial_line_settings *settings,
                           cserial_line_readback *readback, cserial_step *failed_step) {
    set_step(failed_step, CSERIAL_STEP_NONE);
    if (settings == NULL) {
        set_step(failed_step, CSERIAL_STEP_FRAMING);
        return EINVAL;
    }

    struct termios tio;
    if (tcgetattr(fd, &tio) != 0) {
        int saved = errno;
        set_step(failed_step, CSERIAL_STEP_TCGETATTR);
        return saved;
    }
    cfmakeraw(&tio);

    speed_t code;
    if (!speed_code_for_rate(settings->baud, &code)) {
        set_step(failed_step, CSERIAL_STEP_BAUD);
        return EINVAL;
    }
    if (cfsetispeed(&tio, code) != 0) {
        int saved = errno;
        set_step(failed_step, CSERIAL_STEP_CFSETISPEED);
        return saved;
    }
    if (cfsetospeed(&tio, code) != 0) {
        int saved = errno;
        set_step(failed_step, CSERIAL_STEP_CFSETOSPEED);
        return saved;
    }

    tio.c_cflag &= ~(tcflag_t)CSIZE;
    switch (settings->data_bits) {
    case 5: tio.c_cflag |= CS5; break;
    case 6: tio.c_cflag |= CS6; break;
    case 7: tio.c_cflag |= CS7; break;
    case 8: tio.c_cflag |= CS8; break;
    default:
        set_step(failed_step, CSERIAL_STEP_FRAMING);
        return EINVAL;
    }

    tio.c_cflag &= ~(tcflag_t)(PARENB | PARODD);
    tio.c_iflag &= ~(tcflag_t)(INPCK | ISTRIP);
    switch (settings->parity) {
    case CSERIAL_PARITY_NONE: break;
    case CSERIAL_PARITY_ODD: tio.c_cflag |= PARENB | PARODD; tio.c_iflag |= INPCK; break;
    case CSERIAL_PARITY_EVEN: tio.c_cflag |= PARENB; tio.c_iflag |= INPCK; break;
    default:
        set_step(failed_step, CSERIAL_STEP_FRAMING);
        return EINVAL;
    }

    switch (settings->stop_bits) {
    case 1: tio.c_cflag &= ~(tcflag_t)CSTOPB; break;
    case 2: tio.c_cflag |= CSTOPB; break;
    default:
        set_step(failed_step, CSERIAL_STEP_FRAMING);
        return EINVAL;
    }

    tio.c_cflag &= ~(tcflag_t)CRTSCTS;
    tio.c_iflag &= ~(tcflag_t)(IXON | IXOFF | IXANY);
    switch (settings->flow) {
    case CSERIAL_FLOW_NONE: break;
    case CSERIAL_FLOW_RTSCTS: tio.c_cflag |= CRTSCTS; break;
    case CSERIAL_FLOW_XONXOFF: tio.c_iflag |= IXON | IXOFF; break;
    default:
        set_step(failed_step, CSERIAL_STEP_FRAMING);
        return EINVAL;
    }

    /* Ignore modem control lines (a reader has no carrier) and enable the receiver. */
    tio.c_cflag |= CLOCAL | CREAD;
    tio.c_cc[VMIN] = 1;
    tio.c_cc[VTIME] = 0;

    if (tcsetattr(fd, TCSANOW, &tio) != 0) {
        int saved = errno;
        set_step(failed_step, CSERIAL_STEP_TCSETATTR);
        return saved;
    }

    /* tcsetattr succeeds when ANY change was applied: read back what the driver kept. */
    if (readback != NULL) {
        struct termios actual;
        if (tcgetattr(fd, &actual) != 0) {
            int saved = errno;
            set_step(failed_step, CSERIAL_STEP_READBACK);
            return saved;
        }
        readback->baud = rate_for_speed_code(cfgetospeed(&actual));
        switch (actual.c_cflag & CSIZE) {
        case CS5: readback->data_bits = 5; break;
        case CS6: readback->data_bits = 6; break;
        case CS7: readback->data_bits = 7; break;
        default: readback->data_bits = 8; break;
        }
        if ((actual.c_cflag & PARENB) == 0) {
            readback->parity = CSERIAL_PARITY_NONE;
        } else if ((actual.c_cflag & PARODD) != 0) {
            readback->parity = CSERIAL_PARITY_ODD;
        } else {
            readback->parity = CSERIAL_PARITY_EVEN;
        }
        readback->stop_bits = (actual.c_cflag & CSTOPB) != 0 ? 2 : 1;
        if ((actual.c_cflag & CRTSCTS) != 0) {
            readback->flow = CSERIAL_FLOW_RTSCTS;
        } else if ((actual.c_iflag & (IXON | IXOFF)) != 0) {
            readback->flow = CSERIAL_FLOW_XONXOFF;
        } else {
            readback->flow = CSERIAL_FLOW_NONE;
        }
    }
    return 0;
}

/* MARK: - Modem lines and device numbers */

int cserial_modem_bits(int fd, int *bits) {
    if (bits == NULL) {
        return EINVAL;
    }
    if (ioctl(fd, TIOCMGET, bits) != 0) {
        return errno;
    }
    return 0;
}

unsigned int cserial_device_major(unsigned long long device) {
    return (unsigned int)major((dev_t)device);
}

unsigned int cserial_device_minor(unsigned long long device) {
    return (unsigned int)minor((dev_t)device);
}

int cserial_is_pty_slave_major(unsigned int device_major) {
#ifdef __linux__
    /* UNIX98_PTY_SLAVE_MAJOR is 136, followed by UNIX98_PTY_MAJOR_COUNT (8) majors. */
    return device_major >= 136 && device_major < 136 + 8;
#else
    (void)device_major;
    return 0;
#endif
}

/* MARK: - Error text */

int cserial_error_text(int errnum, char *buffer, size_t capacity) {
    if (buffer == NULL || capacity == 0) {
        return EINVAL;
    }
    buffer[0] = '\0';
#if defined(__GLIBC__) && defined(_GNU_SOURCE)
    /* The GNU variant may return a static string instead of filling the buffer. */
    const char *text = strerror_r(errnum, buffer, capacity);
    if (text != buffer) {
        (void)strncpy(buffer, text != NULL ? text : "unknown error", capacity - 1);
        buffer[capacity - 1] = '\0';
    }
#else
    if (strerror_r(errnum, buffer, capacity) != 0) {
        (void)strncpy(buffer, "unknown error", capacity - 1);
        buffer[capacity - 1] = '\0';
    }
#endif
    return 0;
}
