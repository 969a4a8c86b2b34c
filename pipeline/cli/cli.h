/*
 * pipeline/cli/cli.h: the subcommands main.c's table dispatches to, from the other files of
 * the command line. Each takes its own argv (argv[0] is the subcommand) and returns the exit
 * status: 0 success, 1 a failed run, 2 a usage error.
 */
#ifndef GRAFT_PIPELINE_CLI_H
#define GRAFT_PIPELINE_CLI_H

int graft__cmd_info(int argc, char **argv);
int graft__cmd_classify(int argc, char **argv);

#endif
