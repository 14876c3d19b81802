/* isol8d's command line (options.c). */
#ifndef ISOL8_BROKER_OPTIONS_H
#define ISOL8_BROKER_OPTIONS_H

#include <stdio.h>

#include "broker/broker.h"

void broker_usage(FILE *f);
void broker_options_defaults(struct broker_opts *o);
/* 0: run; 1: done (--help or --version printed), exit 0; -1: usage error in *err (exit 2). */
int broker_options_parse(int argc, char **argv, struct broker_opts *o, struct isol8_err *err);
/* --config FILE: its daemon keys, under the options given on the command line. */
int broker_options_apply_config(struct broker_opts *o, struct isol8_err *err);

#endif
