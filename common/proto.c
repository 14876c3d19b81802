#include "config.h"
#include "common/proto.h"

#include <string.h>

int isol8_valid_session_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > ISOL8_MAX_SESSION)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
		      c == '-' || c == '.'))
			return 0;
	}
	return s[0] != '.' && s[0] != '-';
}
