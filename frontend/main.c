#include "config.h"
#include <stdio.h>
int main(void) { printf("isol8 %s\n", PACKAGE_VERSION); return 0; }
