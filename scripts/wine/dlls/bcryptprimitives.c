/*
 * bcryptprimitives.dll for wine 8, which has none: Rust's std (1.78 and later) takes its random
 * bytes (the keys of every HashMap, among others) from ProcessPrng, which Windows 10 provides in
 * this DLL. Without it the addon fails to load ("Module not found"). This one hands the call on to
 * BCryptGenRandom with the system's preferred generator, which wine 8's bcrypt.dll has.
 * Built by scripts/wine.js with mingw-w64 into the wine prefix's system32; never shipped.
 */
#include <windows.h>
#include <bcrypt.h>

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x40000000 ? 0x40000000 : (ULONG)len;
        if (!BCRYPT_SUCCESS(BCryptGenRandom(NULL, data, chunk, BCRYPT_USE_SYSTEM_PREFERRED_RNG)))
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
