/* Network endpoints: the list (the filtered network refuses every Docker network's subnet). */
#include "config.h"

#include "docker/http.h"

int docker_network_list(struct docker *d, json_object **out, struct isol8_err *err)
{
	return docker_call_json(d, "GET", "/networks", NULL, out, err);
}
