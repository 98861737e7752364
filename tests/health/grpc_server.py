"""A small gRPC server with the standard health service, for gRPC check tests. Run as a task:
`python grpc_server.py PORT FLAG` serves until killed; the overall status is SERVING and the
service "todo" is SERVING while the file FLAG does not exist."""

from __future__ import annotations

import sys
import threading
from concurrent import futures
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc


def serve(port: int, host: str = "127.0.0.1") -> tuple[grpc.Server, health.HealthServicer]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    servicer.set("todo", health_pb2.HealthCheckResponse.SERVING)
    server.add_insecure_port(f"{host}:{port}")
    server.start()
    return server, servicer


def main() -> None:
    server, servicer = serve(int(sys.argv[1]))
    flag = Path(sys.argv[2])
    stop = threading.Event()
    while not stop.wait(0.1):
        servicer.set(
            "todo",
            health_pb2.HealthCheckResponse.NOT_SERVING
            if flag.exists()
            else health_pb2.HealthCheckResponse.SERVING,
        )
    server.stop(0)


if __name__ == "__main__":
    main()
