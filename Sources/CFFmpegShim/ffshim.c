#include "ffshim.h"
#include <errno.h>
#include <libavutil/error.h>
#include <libavutil/log.h>
int ffshim_averror_eof(void) { return AVERROR_EOF; }
int ffshim_averror(int posix_errno) { return AVERROR(posix_errno); }
int64_t ffshim_nopts_value(void) { return AV_NOPTS_VALUE; }
void ffshim_strerror(int code, char *buf, size_t size) {
    if (size == 0) return;
    if (av_strerror(code, buf, size) < 0) snprintf(buf, size, "FFmpeg error %d", code);
    buf[size - 1] = 0;
}
void ffshim_set_log_level(int level) { av_log_set_level(level); }
