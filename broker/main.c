#include "config.h"
#include <stdio.h>
int main(void) { printf("isol8d %s\n", PACKAGE_VERSION); return 0; }
