/* FE_RUN request serialisation (contract in run_request.h). */
#include "config.h"
#include "cli/run_request.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

bool run_text_is_json_safe(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < n) {
		unsigned c = p[i];
		unsigned need, cp;

		if (c == 0)
			return false;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			need = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (n - i <= need)
			return false;
		for (unsigned k = 1; k <= need; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if ((need == 2 && cp < 0x800) || (need == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += need + 1;
	}
	return true;
}

static json_object *strv_json(const struct strv *s)
{
	json_object *a = json_object_new_array();

	for (size_t i = 0; i < s->n; i++)
		json_object_array_add(a, json_object_new_string(s->v[i]));
	return a;
}

static json_object *kv_json(const struct kvlist *l)
{
	json_object *o = json_object_new_object();

	for (size_t i = 0; i < l->n; i++)
		json_object_object_add(o, l->keys[i], json_object_new_string(l->values[i]));
	return o;
}

static json_object *request_obj(const struct run_opts *o, const struct run_input *in)
{
	json_object *r = json_object_new_object();

	if (o->cmd) {
		json_object_object_add(r, "cmd", json_object_new_string(o->cmd));
	} else if (o->code_url) {
		json_object_object_add(r, "codeUrl", json_object_new_string(o->code_url));
		if (o->hash)
			json_object_object_add(r, "codeHash", json_object_new_string(o->hash));
		if (o->allow_insecure_code_url)
			json_object_object_add(r, "allowInsecureCodeUrl", json_object_new_boolean(1));
		/* The user's config narrows isol8d's policy; a server (--host) has its own. */
		if (!o->host && o->code_max)
			json_object_object_add(r, "codeMaxSize", json_object_new_uint64(o->code_max));
		if (!o->host && o->code_timeout)
			json_object_object_add(r, "codeFetchTimeoutMs", json_object_new_uint64(o->code_timeout));
	} else if (!in->code_in_bundle)
		json_object_object_add(r, "code", json_object_new_string_len(in->code, (int)in->code_len));
	json_object_object_add(r, "runtime", json_object_new_string(o->runtime));
	json_object_object_add(r, "timeoutMs", json_object_new_uint64(o->timeout_ms));
	json_object_object_add(r, "env", kv_json(&o->env));
	if (o->file_ext && !o->eval && !o->cmd)
		json_object_object_add(r, "fileExtension", json_object_new_string(o->file_ext));
	if (in->stdin_data && !in->stdin_in_bundle)
		json_object_object_add(r, "stdin", json_object_new_string_len(in->stdin_data, (int)in->stdin_len));
	json_object_object_add(r, "workdir", json_object_new_string(o->workdir));
	json_object_object_add(r, "installPackages", strv_json(&o->install));
	if (o->args.n)
		json_object_object_add(r, "args", strv_json(&o->args));
	if (o->output_paths.n)
		json_object_object_add(r, "outputPaths", strv_json(&o->output_paths));
	if (in->setup_script)
		json_object_object_add(r, "setupScript", json_object_new_string(in->setup_script));
	if (o->agent_flags)
		json_object_object_add(r, "agentFlags", json_object_new_string(o->agent_flags));
	if (in->code_in_bundle)
		json_object_object_add(r, "codeInBundle", json_object_new_boolean(1));
	if (in->stdin_in_bundle)
		json_object_object_add(r, "stdinInBundle", json_object_new_boolean(1));
	if (in->stdin_live)
		json_object_object_add(r, "stdinStream", json_object_new_boolean(1));
	if (in->has_files)
		json_object_object_add(r, "hasFiles", json_object_new_boolean(1));
	return r;
}

static json_object *options_obj(const struct run_opts *o)
{
	json_object *p = json_object_new_object();
	json_object *filter = json_object_new_object();

	json_object_object_add(p, "memoryLimit", json_object_new_uint64(o->memory));
	json_object_object_add(p, "cpuLimit", json_object_new_double(o->cpu));
	json_object_object_add(p, "pidsLimit", json_object_new_uint64(o->pids));
	json_object_object_add(p, "sandboxSize", json_object_new_uint64(o->sandbox_size));
	json_object_object_add(p, "tmpSize", json_object_new_uint64(o->tmp_size));
	json_object_object_add(p, "maxOutputSize", json_object_new_uint64(o->max_output));
	json_object_object_add(p, "network", json_object_new_string(o->network));
	if (o->isolation)
		json_object_object_add(p, "isolation", json_object_new_string(o->isolation));
	json_object_object_add(filter, "whitelist", strv_json(&o->allow));
	json_object_object_add(filter, "blacklist", strv_json(&o->deny));
	json_object_object_add(p, "networkFilter", filter);
	json_object_object_add(p, "readonlyRootFs", json_object_new_boolean(!o->writable));
	if (o->image)
		json_object_object_add(p, "image", json_object_new_string(o->image));
	json_object_object_add(p, "persist", json_object_new_boolean(o->persist));
	if (o->persist_ttl_ms)
		json_object_object_add(p, "persistTtlMs", json_object_new_uint64(o->persist_ttl_ms));
	json_object_object_add(p, "secrets", kv_json(&o->secrets));
	json_object_object_add(p, "logNetwork", json_object_new_boolean(o->log_network));
	json_object_object_add(p, "debug", json_object_new_boolean(o->debug));
	return p;
}

char *run_request_json(const struct run_opts *o, const struct run_input *in, size_t *len)
{
	json_object *root = json_object_new_object();
	const char *text;
	size_t n;
	char *out;

	json_object_object_add(root, "request", request_obj(o, in));
	json_object_object_add(root, "options", options_obj(o));
	if (o->session_id)
		json_object_object_add(root, "sessionId", json_object_new_string(o->session_id));
	text = json_object_to_json_string_length(root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
	out = xstrndup(text, n);
	json_object_put(root);
	if (len)
		*len = n;
	return out;
}

int run_request_plan(const struct run_opts *o, struct run_input *in, char **json, size_t *len, struct isol8_err *err)
{
	char *text;
	size_t n;

	in->code_in_bundle = in->code &&
		(in->code_len > RUN_REQUEST_MAX || !run_text_is_json_safe(in->code, in->code_len));
	in->stdin_in_bundle = in->stdin_data &&
		(in->stdin_len > RUN_REQUEST_MAX || !run_text_is_json_safe(in->stdin_data, in->stdin_len));
	for (;;) {
		text = run_request_json(o, in, &n);
		if (n <= RUN_REQUEST_MAX)
			break;
		free(text);
		if (in->stdin_data && !in->stdin_in_bundle)
			in->stdin_in_bundle = true;
		else if (in->code && !in->code_in_bundle)
			in->code_in_bundle = true;
		else
			return isol8_err_set(
				err, ISOL8_E_LIMIT, 0,
				"request too large: setup scripts, env, secrets and flags must fit in %u bytes",
				RUN_REQUEST_MAX);
	}
	*json = text;
	*len = n;
	return 0;
}
