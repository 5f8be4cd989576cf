#define _GNU_SOURCE
#include "CSerialShim.h"

#include <errno.h>
#include <sys/resource.h>
#include <sys/types.h>

int cserial_limit_file_size(int pid, unsigned long long bytes, int unlimited) {
    struct rlimit limit;
    limit.rlim_cur = unlimited ? RLIM_INFINITY : (rlim_t)bytes;
    limit.rlim_max = RLIM_INFINITY;
    if (prlimit((pid_t)pid, RLIMIT_FSIZE, &limit, NULL) != 0) {
        return errno;
    }
    return 0;
}
