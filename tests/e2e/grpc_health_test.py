#!/usr/bin/python3
"""gRPC's standard health protocol and server reflection on the master's port, from a
real gRPC client (Debian's python3-grpcio) with stubs generated here from Debian's
grpc-proto files (grpc/health/v1/health.proto, grpc/reflection/v1alpha/reflection.proto)
by protoc and grpc_python_plugin: health answers without credentials, reflection needs
the token on a TLS port, and the plaintext health port (--health-listen, for Kubernetes'
built-in gRPC probes) answers health and nothing of the master's.

  grpc_health_test.py BUILD_DIR [unittest args]"""
import importlib
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import grpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from distributed_test import TlsMaster  # noqa: E402

BUILD = None
PROTOS = "/usr/share/grpc-proto/grpc"


def stubs(directory):
    """The health and reflection modules, generated into `directory` (flat, so that they
    do not collide with grpcio's own `grpc` package)."""
    for proto in ("health/v1/health.proto", "reflection/v1alpha/reflection.proto"):
        shutil.copy(os.path.join(PROTOS, proto), directory)
    subprocess.run(["protoc", "-I", directory, "--python_out", directory, "--grpc_out", directory,
                    "--plugin=protoc-gen-grpc=" + shutil.which("grpc_python_plugin"),
                    "health.proto", "reflection.proto"], check=True, timeout=60)
    sys.path.insert(0, directory)
    return {name: importlib.import_module(name) for name in
            ("health_pb2", "health_pb2_grpc", "reflection_pb2", "reflection_pb2_grpc")}


class GrpcHealthTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.path.isdir(PROTOS) or shutil.which("grpc_python_plugin") is None:
            raise unittest.SkipTest("grpc-proto or protobuf-compiler-grpc is not installed "
                                    "(scripts/install-deps.sh installs them)")
        cls.dir = tempfile.mkdtemp(prefix="deepevolve-health-")
        cls.m = stubs(cls.dir)
        cls.tls = TlsMaster(BUILD, cls.dir)
        cls.address = cls.tls.address
        with open(cls.tls.cert("ca.pem"), "rb") as f:
            cls.credentials = grpc.ssl_channel_credentials(f.read())
        with open(cls.tls.cert("token")) as f:
            cls.token = f.read().strip()

    @classmethod
    def tearDownClass(cls):
        cls.tls.close()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def channel(self):
        return grpc.secure_channel(self.address, self.credentials)

    def test_health_answers_serving_without_credentials(self):
        m = self.m
        with self.channel() as channel:
            health = m["health_pb2_grpc"].HealthStub(channel)
            for service in ("", "deepevolve.v1.SearchService", "deepevolve.v1.WorkerService"):
                response = health.Check(m["health_pb2"].HealthCheckRequest(service=service),
                                        timeout=30)
                self.assertEqual(response.status, m["health_pb2"].HealthCheckResponse.SERVING,
                                 service)
            with self.assertRaises(grpc.RpcError) as unknown:
                health.Check(m["health_pb2"].HealthCheckRequest(service="no.such.Service"),
                             timeout=30)
            self.assertEqual(unknown.exception.code(), grpc.StatusCode.NOT_FOUND)
            # Watch streams the status, as Kubernetes' and Envoy's probes may use it.
            first = next(health.Watch(m["health_pb2"].HealthCheckRequest(service=""), timeout=30))
            self.assertEqual(first.status, m["health_pb2"].HealthCheckResponse.SERVING)

    def test_the_plaintext_health_port_answers_health_alone(self):
        m = self.m
        with grpc.insecure_channel(self.tls.health_address) as channel:
            health = m["health_pb2_grpc"].HealthStub(channel)
            for service in ("", "deepevolve.v1.SearchService"):
                response = health.Check(m["health_pb2"].HealthCheckRequest(service=service),
                                        timeout=30)
                self.assertEqual(response.status, m["health_pb2"].HealthCheckResponse.SERVING)
            # The master's own services are not there: the call's method is unknown.
            list_searches = channel.unary_unary("/deepevolve.v1.SearchService/List",
                                                request_serializer=lambda b: b,
                                                response_deserializer=lambda b: b)
            with self.assertRaises(grpc.RpcError) as absent:
                list_searches(b"", timeout=30)
            self.assertEqual(absent.exception.code(), grpc.StatusCode.UNIMPLEMENTED)
        # The TLS port does not speak plaintext.
        with grpc.insecure_channel(self.address) as channel:
            with self.assertRaises(grpc.RpcError) as plaintext:
                m["health_pb2_grpc"].HealthStub(channel).Check(
                    m["health_pb2"].HealthCheckRequest(service=""), timeout=5)
            self.assertEqual(plaintext.exception.code(), grpc.StatusCode.UNAVAILABLE)

    def list_services(self, metadata):
        m = self.m
        with self.channel() as channel:
            reflection = m["reflection_pb2_grpc"].ServerReflectionStub(channel)
            request = m["reflection_pb2"].ServerReflectionRequest(list_services="")
            response = next(reflection.ServerReflectionInfo(iter([request]), metadata=metadata,
                                                            timeout=30))
            return {s.name for s in response.list_services_response.service}

    def test_reflection_needs_the_token_and_lists_the_services(self):
        with self.assertRaises(grpc.RpcError) as refused:
            self.list_services(())
        self.assertEqual(refused.exception.code(), grpc.StatusCode.UNAUTHENTICATED)
        services = self.list_services((("authorization", "Bearer " + self.token),))
        self.assertLessEqual({"deepevolve.v1.SearchService", "deepevolve.v1.WorkerService",
                              "grpc.health.v1.Health"}, services)


if __name__ == "__main__":
    BUILD = sys.argv.pop(1)
    unittest.main(verbosity=2)
