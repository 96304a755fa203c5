package containers

// TestKEK is the key-encryption key every omni the suite starts is given (as OMNI_SEAL_KEK): a
// test key, known to all, that wraps the data and MAC keys of the test databases.
// WARNING: a key for tests only; it is public.
const TestKEK = "rxVpmlMfGfYu0fwaoV9JqGshpVkFx5V9P7fw51g3grE="

// SealEnv is the environment variable that gives omni TestKEK.
const SealEnv = "OMNI_SEAL_KEK=" + TestKEK
