#ifndef VQA_FFSHIM_H
#define VQA_FFSHIM_H
#include <stdint.h>
#include <libavformat/avformat.h>
// AVERROR_EOF / AVERROR(e) / AV_NOPTS_VALUE are macros Swift cannot import.
int ffshim_averror_eof(void);
int ffshim_averror(int posix_errno);
int64_t ffshim_nopts_value(void);
/// Writes FFmpeg's text for an error code into buf (always NUL-terminated).
void ffshim_strerror(int code, char *buf, size_t size);
/// Silences (level = AV_LOG_QUIET) or restores FFmpeg's own logging.
void ffshim_set_log_level(int level);
#endif
