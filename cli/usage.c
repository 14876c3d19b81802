/* Help texts for `isol8 help [cmd]` and `isol8 <cmd> --help`. Defaults shown are the built-in
 * ones; the user config (isol8 config) may change timeout, memory, cpu, network and sizes. */
#include "config.h"

#include <string.h>

#include "cli/cli.h"

static const char main_text[] =
	"Usage: isol8 <command> [options]\n"
	"\n"
	"Secure code execution engine: runs untrusted code in locked-down Docker containers\n"
	"through the isol8d daemon.\n"
	"\n"
	"Commands:\n"
	"  run [file [args]]     Execute code in an isolated container\n"
	"  session list|stop     List or stop persistent sessions\n"
	"  file put|get          Copy files into or out of a session's /sandbox\n"
	"  cp SRC DST            Copy a file: LOCAL NAME:REMOTE or NAME:REMOTE LOCAL\n"
	"  setup                 Build the runtime images (and configured custom images)\n"
	"  build                 Build a custom image with packages baked in\n"
	"  list-custom           List the custom images (--json)\n"
	"  keys create|list|revoke|purge  API keys of isol8 serve (root)\n"
	"  login, logout         Store (remove) an API key for --host from a server's master key\n"
	"  rm ID, rm --list      Remove (list) your containers kept by run --persist\n"
	"  cleanup               Remove isol8 containers (and images with --images)\n"
	"  config                Display the resolved configuration\n"
	"  audit verify|show     Check isol8d's audit log, or list its records\n"
	"  status                Show the running isol8d: workers, queue, tenants, policy\n"
	"  doctor                Check the host and probe a real sandbox against the policy\n"
	"  serve                 Serve the HTTP API (forwards to isol8d)\n"
	"  mcp                   Serve the Model Context Protocol on stdin/stdout\n"
	"  version               Print the version\n"
	"  help [command]        Show help for a command\n"
	"\n"
	"Global options:\n"
	"  -V, --version         Print the version and exit\n"
	"  --debug               Debug output for the command that follows\n"
	"  -h, --help            Show this help\n"
	"\n"
	"Run 'isol8 help <command>' for the options of a command.\n";

static const char run_text[] =
	"Usage: isol8 run [options] [file [arg...]]\n"
	"       isol8 run [options] -e <code> [-- arg...]\n"
	"\n"
	"Execute code in an isolated container. Code comes from --cmd, -e, the file argument or\n"
	"stdin (in that order). The runtime is taken from the file extension (.py python,\n"
	".js/.mjs/.cjs node, .ts bun, .mts deno, .sh bash), else python (bash for --cmd).\n"
	"Words after the file (after -- with -e or --cmd) are the program's arguments.\n"
	"When code comes from -e or a file and stdin is piped, the program reads it as it arrives.\n"
	"The exit status is the program's (124 on timeout, 137 when killed for memory).\n"
	"\n"
	"Input:\n"
	"  -e, --eval <code>         Execute inline code                          (-)\n"
	"  --cmd <command>           Run `bash -c <command>` in the runtime's image (-)\n"
	"  -r, --runtime <name>      python, node, bun, deno, bash, agent         (auto-detect)\n"
	"  --agent-flags <flags>     Extra flags for the agent's pi, agent runtime only (-)\n"
	"  --stdin <data>            Data for the program's stdin                 (-)\n"
	"  --files <dir>             Copy a local directory into /sandbox (skips .git, node_modules,\n"
	"                            __pycache__, .venv, venv, .tox)              (-)\n"
	"  --workdir <path>          Working directory, inside /sandbox           (/sandbox)\n"
	"  --install <package>       Install a package first (repeatable); without --net the\n"
	"                            network becomes filtered with the registry allowed (-)\n"
	"  --setup <command>         Setup script run before the code (repeatable; a path to an\n"
	"                            existing file means its contents)            (-)\n"
	"  --env <KEY[=VALUE]>       Environment variable; KEY alone takes the value from your\n"
	"                            environment (repeatable)                     (-)\n"
	"  --env-file <file>         KEY=VALUE lines (repeatable)                 (-)\n"
	"  --secret <KEY[=VALUE]>    Secret environment variable, masked in output; KEY alone\n"
	"                            takes it from your environment, off the command line (-)\n"
	"  --secret-file <file>      Secrets as KEY=VALUE lines (repeatable)      (-)\n"
	"\n"
	"Limits:\n"
	"  --timeout <ms>            Timeout for install + execution (also 30s, 2m) (30000)\n"
	"  --memory <limit>          Memory limit, e.g. 512m, 1g                  (512m)\n"
	"  --cpu <limit>             CPU limit in cores, e.g. 0.5, 2              (1.0)\n"
	"  --pids-limit <n>          Maximum number of processes, 1-1000000       (64; agent 200)\n"
	"  --max-output <bytes>      Output cap per stream, e.g. 1048576, 2m      (1048576)\n"
	"  --sandbox-size <size>     Size of the /sandbox tmpfs                   (512m; agent 2g)\n"
	"  --tmp-size <size>         Size of the /tmp tmpfs                       (256m)\n"
	"\n"
	"Sandbox:\n"
	"  --net <mode>              Network: none, host, filtered                (none)\n"
	"  --isolation <tier>        runc or runsc (gVisor): stronger than the policy's, never weaker\n"
	"  --allow <host>            Host allowed in filtered mode: name, *.domain or * (repeatable) (config)\n"
	"  --deny <host>             Host denied in filtered mode: name, *.domain or * (repeatable) (config)\n"
	"  --log-network             Record network requests (filtered mode)      (false)\n"
	"  --image <name>            Override the Docker image (policy permitting) (-)\n"
	"  --writable                Writable root filesystem (policy permitting) (false)\n"
	"\n"
	"Sessions and containers:\n"
	"  --persistent              Keep state between runs in a session named cli-<ms> (false)\n"
	"  --session-id <name>       Run in the named session ([A-Za-z0-9_.-], max 64; implies\n"
	"                            --persistent)                                 (-)\n"
	"  --persist                 Keep the container after the run for inspection; isol8d\n"
	"                            removes it after the policy's persistTtlMs (false)\n"
	"  --persist-ttl <duration>  Keep it for less than that, e.g. 10m (with --persist) (-)\n"
	"\n"
	"Output:\n"
	"  --no-stream               Print output when the run ends, not as it comes (false)\n"
	"  --out <file>              Also write stdout to <file>                  (-)\n"
	"  --json                    Print the result as one JSON object with stdout/stderr (false)\n"
	"  --output-path <path>      Return this file of /sandbox after the run (repeatable) (-)\n"
	"  --output-dir <dir>        Write the --output-path files under <dir>    (-)\n"
	"  --timings                 Print phase timings on stderr                (false)\n"
	"  --usage                   Print the run's CPU, memory and network use on stderr (false)\n"
	"  --debug                   Debug output on stderr                       (config debug)\n"
	"\n"
	"Connection:\n"
	"  --socket <path>           isol8d socket                ($ISOL8_SOCKET, /run/isol8/isol8d.sock)\n"
	"  --host <url>              Run on a remote `isol8 serve` (http:// or https://) (-)\n"
	"  --key <key>               API key for --host                           ($ISOL8_API_KEY)\n"
	"\n"
	"Remote code (disabled: remoteCode.enabled):\n"
	"  --url <url>, --github <owner/repo/ref/path>, --gist <gistId/file.ext>,\n"
	"  --hash <sha256>, --allow-insecure-code-url\n"
	"\n"
	"Flags take their value as --flag value or --flag=value.\n";

static const char session_text[] =
	"Usage: isol8 session list [--json] [--socket <path>]\n"
	"       isol8 session stop <name> [--socket <path>]\n"
	"\n"
	"List your persistent sessions, or stop one and remove its container.\n"
	"With --host <url> [--key <key>] (key also $ISOL8_API_KEY), ask a remote isol8 serve.\n";

static const char rm_text[] =
	"Usage: isol8 rm [--json] [--socket <path>] <id>\n"
	"       isol8 rm --list [--json] [--socket <path>]\n"
	"\n"
	"Remove one of your containers kept by 'isol8 run --persist' (its id, or the first 12 or\n"
	"more of its hex digits), or list them with the time isol8d removes each on its own.\n"
	"Containers of other users are not shown and cannot be removed.\n";

/* http: isol8 serve */
static const char serve_text[] =
	"Usage: isol8 serve [options]\n"
	"\n"
	"Serve the HTTP API (the original's endpoints) and forward every request to isol8d.\n"
	"Every endpoint but GET /health needs 'Authorization: Bearer <key>'.\n"
	"\n"
	"  --port <n>                Port (0: any free port)   ($ISOL8_PORT, $PORT, 3000)\n"
	"                            A busy port is replaced by a free one when not interactive.\n"
	"  --bind <addr>             Numeric IP address to listen on              (127.0.0.1)\n"
	"  --metrics <who>           GET /metrics (Prometheus): auto (open on a loopback address, an\n"
	"                            API key otherwise), open, key or off          (auto)\n"
	"  --key-file <file>         API key, named 'default', from the file's first line (-)\n"
	"  --key <key>               The same on the command line (visible to every local user;\n"
	"                            prefer --key-file or $ISOL8_API_KEY)         ($ISOL8_API_KEY)\n"
	"  --keys-file <file>        More keys, one 'name:secret' per line        (-)\n"
	"  --max-body <size>         Largest request body, e.g. 10m (413 above)   (10m)\n"
	"  --max-concurrent <n>      Concurrent executions; more get 429          (64)\n"
	"  --grace <seconds>         On SIGINT/SIGTERM, wait this long for running requests (30)\n"
	"  --socket <path>           isol8d socket                ($ISOL8_SOCKET, /run/isol8/isol8d.sock)\n"
	"  --tls-cert <file>         Serve HTTPS with this PEM certificate (chain) (-)\n"
	"  --tls-key <file>          ... and this PEM private key (both or neither) (-)\n"
	"  --header-timeout <s>      Cut a request whose headers are not in after s seconds (10)\n"
	"  --node-id <id>            This node's name in X-Isol8-Node and /health ($ISOL8_NODE_ID,\n"
	"                            the host name); 1-64 of [A-Za-z0-9_.-]\n"
	"  --act-for-keys            Ask isol8d to act for each key (default when run as root;\n"
	"                            isol8d must trust this uid); --no-act-for-keys: act as me\n"
	"                            (refused as root)\n"
	"\n"
	"Run as root, the HTTP server drops to the isol8-unpriv account (else nobody) before its\n"
	"first thread; the started process stays as its connector to isol8d, without capabilities.\n"
	"\n"
	"Endpoints: GET /health, POST /execute, POST /execute/stream (SSE), POST /file,\n"
	"GET /file?sessionId=&path=, GET /sessions, DELETE /session/<id>, POST /cleanup,\n"
	"GET /execute/ws (WebSocket: execute, stdin, signal messages), GET /openapi.json.\n";

static const char mcp_text[] =
	"Usage: isol8 mcp [--socket <path>]\n"
	"\n"
	"Speak the Model Context Protocol (JSON-RPC, one message a line) on stdin/stdout, for an\n"
	"MCP client that starts it. Tools: execute, session_create, session_run, session_stop,\n"
	"file_put, file_get; resource isol8://runtimes. Every call goes to isol8d as you, under\n"
	"your policy.\n";

static const char file_text[] = "Usage: isol8 file put <name> <local> <remote> [--socket <path>]\n"
				"       isol8 file get <name> <remote> [<local>|-] [--socket <path>]\n"
				"       (either with --host <url> [--key <key>]: through an isol8 serve)\n"
				"\n"
				"Copy a file into or out of session <name>. <remote> is resolved against /sandbox and\n"
				"must stay inside it. Without <local> (or with -), get writes to stdout.\n";

static const char cp_text[] = "Usage: isol8 cp <local> <name>:<remote> [--socket <path>]\n"
			      "       isol8 cp <name>:<remote> <local> [--socket <path>]\n"
			      "\n"
			      "Copy a file between the local machine and session <name>'s /sandbox.\n"
			      "Write a local path containing ':' as ./path.\n";

static const char config_text[] =
	"Usage: isol8 config [--json]\n"
	"\n"
	"Display the resolved configuration: ./isol8.config.json, else ~/.isol8/config.json,\n"
	"merged over the defaults.\n";

static const char version_text[] = "Usage: isol8 version | isol8 --version | isol8 -V\n";

void usage_main(FILE *f)
{
	fputs(main_text, f);
}

static const char help_text[] =
	"Usage: isol8 help [command]\n"
	"\n"
	"Without a command, list the commands; with one, show its options (as 'isol8 <command>\n"
	"--help' does).\n";

static const char status_text[] =
	"Usage: isol8 status [--json | --prometheus | --drain | --undrain] [--socket <path>]\n"
	"\n"
	"Show the running isol8d: version and uptime, workers, the run queue, runs in flight and\n"
	"sandboxes per tenant, and the policy in force (file, load time, reloads). root sees every\n"
	"tenant; others see their own.\n"
	"  --prometheus   isol8d's metrics in the Prometheus text format, as isol8 serve's GET /metrics\n"
	"                 answers them (root only)\n"
	"  --drain        take this node out of service (root only, as SIGUSR1 to isol8d): no new runs\n"
	"                 or sessions, running ones finish; prints the state (drained: safe to stop)\n"
	"  --undrain      take new runs and sessions again (as SIGUSR2)\n";

int usage_command(const char *cmd, FILE *f)
{
	static const struct {
		const char *name, *text;
	} texts[] = {
		{"run", run_text},         {"session", session_text}, {"rm", rm_text},
		{"file", file_text},       {"cp", cp_text},           {"config", config_text},
		{"version", version_text}, {"serve", serve_text}, /* http */
		{"mcp", mcp_text},         {"status", status_text},   {"help", help_text},
	};

	for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
		if (strcmp(cmd, texts[i].name) == 0) {
			fputs(texts[i].text, f);
			return 0;
		}
	}
	return -1;
}
