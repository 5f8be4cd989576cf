#include "CSerialShim.h"

#include <errno.h>
#include <string.h>
#include <sys/timex.h>

int cserial_clock_state(int *status, int *state) {
    struct timex tx;
    memset(&tx, 0, sizeof tx);
    tx.modes = 0; /* read only */
    int result = adjtimex(&tx);
    if (result == -1) {
        return errno;
    }
    *status = tx.status;
    *state = result;
    return 0;
}

int cserial_sta_unsync(void) { return STA_UNSYNC; }

int cserial_time_error(void) { return TIME_ERROR; }
