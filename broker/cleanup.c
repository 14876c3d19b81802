/* Removal of sandboxes the broker owns: on worker death, on hard deadlines, at shutdown, and
 * orphans of an earlier run of this same daemon (matched by its instance label only, so other
 * daemons' and foreign containers are never touched). */
#include "config.h"

#include <json-c/json.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "broker/broker.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "docker/client.h"

void broker_remove_containers(struct broker *b, char (*ids)[65], size_t n)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	struct docker *d;

	if (n == 0)
		return;
	d = docker_open(b->o.docker_host, &err);
	if (!d) {
		log_error("cannot remove %zu container(s): %s", n, err.msg);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (docker_container_remove(d, ids[i], true, true, &err) < 0)
			log_warn("remove %.12s: %s", ids[i], err.msg);
		netns_forget(b, ids[i]);
		table_container_del(ids[i]);
	}
	docker_close(d);
}

struct removal {
	struct broker *b;
	char (*ids)[65];
	size_t n;
};

static void *removal_main(void *arg)
{
	struct removal *r = arg;
	broker_remove_containers(r->b, r->ids, r->n);
	free(r->ids);
	free(r);
	__atomic_sub_fetch(&g_broker->inflight, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

/* Removal off the event loop: Docker calls take tens of milliseconds each, and the loop must
 * keep accepting and routing meanwhile. Takes ownership of ids. */
void broker_remove_containers_async(struct broker *b, char (*ids)[65], size_t n)
{
	struct removal *r;
	pthread_attr_t attr;
	pthread_t th;

	if (n == 0) {
		free(ids);
		return;
	}
	r = xcalloc(1, sizeof *r);
	r->b = b;
	r->ids = ids;
	r->n = n;
	__atomic_add_fetch(&b->inflight, 1, __ATOMIC_SEQ_CST);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&th, &attr, removal_main, r) != 0) {
		/* No thread: do it inline rather than leak sandboxes. */
		pthread_attr_destroy(&attr);
		removal_main(r);
		return;
	}
	pthread_attr_destroy(&attr);
}

int broker_remove_orphans(struct broker *b, struct isol8_err *err)
{
	struct docker *d = docker_open(b->o.docker_host, err);
	json_object *list = NULL;
	char filter[600];
	size_t n, removed = 0;

	if (!d)
		return -1;
	snprintf(filter, sizeof filter, "org.isol8.instance=%s", b->instance);
	if (docker_container_list(d, filter, true, &list, err) < 0) {
		docker_close(d);
		return -1;
	}
	n = json_object_array_length(list);
	for (size_t i = 0; i < n; i++) {
		json_object *c = json_object_array_get_idx(list, i), *id;
		struct isol8_err e2 = ISOL8_ERR_INIT;
		if (!json_object_object_get_ex(c, "Id", &id))
			continue;
		if (docker_container_remove(d, json_object_get_string(id), true, true, &e2) < 0)
			log_warn("remove orphan %.12s: %s", json_object_get_string(id), e2.msg);
		else
			removed++;
	}
	if (removed)
		log_info("removed %zu orphaned sandbox(es) from an earlier run", removed);
	json_object_put(list);
	docker_close(d);
	return 0;
}
