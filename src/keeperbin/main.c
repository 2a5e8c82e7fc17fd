/* tend-keeper: the keeper as a program of its own (keeper.h says when tend hands over to
 * it). Linked statically from keeper.c alone, it maps none of tend's code and only the few
 * pages of the C library it calls, so the process that outlives every supervisor stays
 * small in memory. */
#include <stdbool.h>

#include "keeper.h"

int main(int argc, char **argv)
{
    return keeper_main(argc, argv, true);
}
