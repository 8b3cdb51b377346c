using System.Net;
using System.Text.Json;

namespace ServerlessGateway.EndToEnd.Tests.Infrastructure;

public static class Problem
{
    /// <summary>Asserts a problem+json response with the status and a request id; returns its detail.</summary>
    public static async Task<string> AssertAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal((int)status, json.RootElement.GetProperty("status").GetInt32());
        Assert.Matches("^[0-9a-f]{32}$", json.RootElement.GetProperty("request_id").GetString());
        return json.RootElement.GetProperty("detail").GetString()!;
    }
}
