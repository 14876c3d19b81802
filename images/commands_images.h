/* Image subcommands of the isol8 CLI. argv[0] is the subcommand name; each returns the exit
 * status (0 ok, 1 failure, 2 usage error). */
#ifndef ISOL8_FRONTEND_COMMANDS_IMAGES_H
#define ISOL8_FRONTEND_COMMANDS_IMAGES_H

int cmd_setup(int argc, char **argv);
int cmd_build(int argc, char **argv);
int cmd_cleanup(int argc, char **argv);
int cmd_list_custom(int argc, char **argv);

#endif
