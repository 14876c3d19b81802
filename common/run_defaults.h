/* The limits of a run with no flags, no config and no policy ceiling (the original's defaults:
 * 512m memory, 1 CPU, 64 processes, 30 s, a 512m /sandbox, a 256m /tmp, 1 MiB of output), in
 * one place for the policy's built-in limits (policy/builtin.c) and the worker's request parser
 * and pool shape (worker/request.c). The user config's own defaults (common/conf.c) are JSON
 * text and say the same numbers; check_conf asserts they agree. */
#ifndef ISOL8_RUN_DEFAULTS_H
#define ISOL8_RUN_DEFAULTS_H

#define ISOL8_DEFAULT_MEMORY (512ull << 20)
#define ISOL8_DEFAULT_CPU_MILLIS 1000u
#define ISOL8_DEFAULT_PIDS 64u
#define ISOL8_DEFAULT_TIMEOUT_MS 30000u
#define ISOL8_DEFAULT_SANDBOX_SIZE (512ull << 20)
#define ISOL8_DEFAULT_TMP_SIZE (256ull << 20)
#define ISOL8_DEFAULT_MAX_OUTPUT (1ull << 20)

/* The agent runtime's own defaults (the original's CLI: pidsLimit 200, sandboxSize 2g), used
 * when the request does not set them, and its prompt's cap: one exec argument that shares the
 * exec message (64 KiB) with the environment. */
#define ISOL8_AGENT_DEFAULT_PIDS 200u
#define ISOL8_AGENT_DEFAULT_SANDBOX_SIZE (2ull << 30)
#define ISOL8_AGENT_PROMPT_MAX (16u << 10)

#endif
