/* Logging to stderr, one line per event. Keys and tokens are never logged. */
#ifndef WZ_LOG_H
#define WZ_LOG_H

void	log_setname(const char *);
/* Lines go to path from now on (appended; "" or NULL: standard error).
 * The file is opened again when it was moved or removed (logrotate), at
 * most once a second. When it cannot be opened, lines stay on standard
 * error and one warning says why. */
void	log_open(const char *path);
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

#endif
