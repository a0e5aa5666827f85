/* hostile.c -- tries to delete the tests and solutions by relative paths. */
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
    int rc = system("rm -rf tests solutions exercises Makefile lessons "
                    "../tests ../solutions ../exercises ../Makefile "
                    "../../tests ../../solutions ../../exercises "
                    "../../../tests ../../../solutions ../../../exercises 2>/dev/null");
    printf("hello (rm said %d)\n", rc);
    return 0;
}
