/*
 * curlshim: LD_PRELOAD work-around for Debian bookworm's SyncEvolution
 * 2.0.0-3+b1.
 *
 * The packaged libsyncevolution.so.0 calls, in the constructor
 * SyncEvo::CurlTransportAgent::CurlTransportAgent(),
 *
 *     curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, <garbage>);
 *     curl_easy_setopt(h, CURLOPT_WRITEDATA,     this);
 *     curl_easy_setopt(h, CURLOPT_READFUNCTION,  <garbage>);
 *     curl_easy_setopt(h, CURLOPT_READDATA,      this);
 *
 * where <garbage> is whatever the previous curl_easy_setopt call left in
 * %rdx: the compiled constructor (objdump -d at the symbol
 * _ZN7SyncEvo18CurlTransportAgentC1Ev) loads no third argument for these
 * two calls. In practice it is NULL. libcurl calls that "function" when it
 * sends the first POST body, and the client dies with SIGSEGV.
 *
 * This library interposes curl_easy_setopt. For CURLOPT_WRITEFUNCTION and
 * CURLOPT_READFUNCTION set from inside that constructor (found by the
 * caller's return address), or set to NULL from anywhere, it substitutes
 * trampolines with libcurl's callback signature that forward to the
 * exported, non-virtual members
 *
 *     size_t SyncEvo::CurlTransportAgent::writeData(void *buffer, size_t len)
 *     size_t SyncEvo::CurlTransportAgent::readData(void *buffer, size_t len)
 *
 * with userdata (the constructor sets CURLOPT_WRITEDATA/READDATA to `this`)
 * as the object. In the Itanium C++ ABI such a member is an ordinary
 * function whose first argument is `this`.
 *
 * Everything else is forwarded unchanged to the real curl_easy_setopt
 * (dlsym(RTLD_NEXT)), passing the variadic argument with its proper type.
 *
 * No curl headers needed: the few constants are copied from curl.h.
 * Set CURLSHIM_DEBUG=1 to log the substitutions to stderr; syncevolution
 * captures its stderr, so they end up in the session's
 * syncevolution-log.html.
 *
 * Built by the Go package syncevo (gcc -shared -fPIC ... -ldl); for a
 * manual run:
 *   gcc -O2 -shared -fPIC -o curlshim.so curlshim.c -ldl
 *   LD_PRELOAD=$PWD/curlshim.so syncevolution --daemon=no <config>
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int CURLcode;
typedef int CURLoption;
typedef int64_t curl_off_t;

enum {
	OPTTYPE_LONG = 0,
	OPTTYPE_OBJECTPOINT = 10000,
	OPTTYPE_FUNCTIONPOINT = 20000,
	OPTTYPE_OFF_T = 30000,
	OPTTYPE_BLOB = 40000,
	OPT_WRITEFUNCTION = OPTTYPE_FUNCTIONPOINT + 11,
	OPT_READFUNCTION = OPTTYPE_FUNCTIONPOINT + 12,
};

#define SYM_CTOR "_ZN7SyncEvo18CurlTransportAgentC1Ev"
#define SYM_WRITE "_ZN7SyncEvo18CurlTransportAgent9writeDataEPvm"
#define SYM_READ "_ZN7SyncEvo18CurlTransportAgent8readDataEPvm"

typedef CURLcode (*setopt_fn)(void *, CURLoption, ...);
typedef size_t (*member_fn)(void *self, void *buffer, size_t len);

static setopt_fn real_setopt;
static member_fn member_write, member_read;
static uintptr_t ctor_start, ctor_end;
static int debug;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void shim_init(void)
{
	debug = getenv("CURLSHIM_DEBUG") != NULL;
	real_setopt = (setopt_fn)dlsym(RTLD_NEXT, "curl_easy_setopt");
	member_write = (member_fn)dlsym(RTLD_DEFAULT, SYM_WRITE);
	member_read = (member_fn)dlsym(RTLD_DEFAULT, SYM_READ);
	void *ctor = dlsym(RTLD_DEFAULT, SYM_CTOR);
	if (ctor) {
		Dl_info info;
		const ElfW(Sym) *sym = NULL;
		if (dladdr1(ctor, &info, (void **)&sym, RTLD_DL_SYMENT) && sym &&
		    sym->st_size > 0) {
			ctor_start = (uintptr_t)ctor;
			ctor_end = ctor_start + sym->st_size;
		}
	}
	if (debug)
		fprintf(stderr,
			"curlshim: real=%p write=%p read=%p ctor=[%#lx,%#lx)\n",
			(void *)real_setopt, (void *)member_write,
			(void *)member_read, (unsigned long)ctor_start,
			(unsigned long)ctor_end);
}

static size_t write_trampoline(char *ptr, size_t size, size_t nmemb,
			       void *userdata)
{
	return member_write(userdata, ptr, size * nmemb);
}

static size_t read_trampoline(char *ptr, size_t size, size_t nmemb,
			      void *userdata)
{
	return member_read(userdata, ptr, size * nmemb);
}

CURLcode curl_easy_setopt(void *handle, CURLoption option, ...)
{
	uintptr_t caller = (uintptr_t)__builtin_return_address(0);
	va_list ap;

	pthread_once(&once, shim_init);
	if (!real_setopt) {
		fprintf(stderr, "curlshim: real curl_easy_setopt not found\n");
		abort();
	}

	va_start(ap, option);
	if (option >= OPTTYPE_BLOB) {
		void *p = va_arg(ap, void *);
		va_end(ap);
		return real_setopt(handle, option, p);
	}
	if (option >= OPTTYPE_OFF_T) {
		curl_off_t v = va_arg(ap, curl_off_t);
		va_end(ap);
		return real_setopt(handle, option, v);
	}
	if (option >= OPTTYPE_FUNCTIONPOINT) {
		void *fn = va_arg(ap, void *);
		va_end(ap);
		if (option == OPT_WRITEFUNCTION || option == OPT_READFUNCTION) {
			int from_ctor = ctor_end && caller >= ctor_start &&
					caller < ctor_end;
			member_fn m = option == OPT_WRITEFUNCTION ? member_write
								  : member_read;
			if ((from_ctor || fn == NULL) && m) {
				void *t = option == OPT_WRITEFUNCTION
						  ? (void *)write_trampoline
						  : (void *)read_trampoline;
				if (debug)
					fprintf(stderr,
						"curlshim: option %d: %p -> %p "
						"(caller %#lx)\n",
						option, fn, t,
						(unsigned long)caller);
				fn = t;
			}
		}
		return real_setopt(handle, option, fn);
	}
	if (option >= OPTTYPE_OBJECTPOINT) {
		void *p = va_arg(ap, void *);
		va_end(ap);
		return real_setopt(handle, option, p);
	}
	long v = va_arg(ap, long);
	va_end(ap);
	return real_setopt(handle, option, v);
}
