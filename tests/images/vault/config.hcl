# A single real Vault server keeping its state on disk, so that a stopped and started container
# keeps its secrets, leases and keys (a dev server keeps everything in memory). The test helper
# initialises and unseals it, and unseals it again after a restart. Plain HTTP: tests reach it on
# 127.0.0.1 and the project's own Docker network only.
storage "file" {
  path = "/vault/data"
}

listener "tcp" {
  address     = "0.0.0.0:8200"
  tls_disable = true
}

api_addr      = "http://127.0.0.1:8200"
disable_mlock = true
ui            = false
