/* Prometheus metrics of the daemon (broker/metrics.c). */
#ifndef ISOL8_BROKER_METRICS_H
#define ISOL8_BROKER_METRICS_H

#include <stdint.h>

struct broker;

void metrics_init(const struct broker *b);
/* A finished run (outcome: enum isol8_audit_outcome; runtime -1: it reached no sandbox). */
void metrics_run(int tenant, int runtime, int outcome, uint64_t duration_ms);
/* A refusal (tenant -1: no tenant matched; code: enum isol8_err_code). */
void metrics_refusal(int tenant, int code);
/* HELLO_METRICS: the text exposition as WK_FILE on fd, from its own thread; takes fd. */
void metrics_serve(struct broker *b, int fd);

#endif
