using BenchmarkDotNet.Running;

// Micro-benchmarks of Core's hot paths. Run in Release, e.g.:
//   dotnet run -c Release --project bench/Micro -- --filter '*Jwt*' --job short
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
