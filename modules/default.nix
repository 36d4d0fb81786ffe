# All Peek services; enable the ones this host runs (services.peek.<kind>.enable).
{
  imports = [
    ./server.nix
    ./client.nix
    ./agent.nix
    ./worker.nix
  ];
}
