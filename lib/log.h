/* Logging to stderr, one line per event. Keys and tokens are never logged. */
#ifndef WZ_LOG_H
#define WZ_LOG_H

void	log_setname(const char *);
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

#endif
