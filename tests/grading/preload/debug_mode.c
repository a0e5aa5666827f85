/* debug_mode.c -- LD_PRELOAD helper for the grading suite of exercise 15:
 * switches libevent's debug mode on before the program's main() runs, so
 * misuse of an event (re-assigning a pending event, using a freed one) ends
 * in a clear "[err] ..." message and abort() instead of silent corruption.
 *
 *   cc -Wall -fPIC -shared -o debug_mode.so debug_mode.c $(pkg-config --cflags --libs libevent)
 *   LD_PRELOAD=./debug_mode.so ./debug_me
 */
#include <event2/event.h>

__attribute__((constructor)) static void evlab_debug_mode_on(void) { event_enable_debug_mode(); }
